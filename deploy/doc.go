// Package deploy holds the AWS SAM template of the Lambda app
// (template.yaml). Its test parses the template and checks it against the
// code: handlers, events, environment (validated by apps/config), the
// authorizer and each function's IAM statements.
package deploy
