package deploy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
)

// The typed views below model only the properties the tests read, with
// CloudFormation's property names; json.Unmarshal fails the test when one
// of them has the wrong JSON type. Properties they do not model are
// ignored (cfn-lint checks the template against the resource schemas).

// samTemplate is the resolved template: its transform, outputs, and each
// resource's type with its properties left raw for a typed view.
type samTemplate struct {
	Transform any                    `json:"Transform"`
	Resources map[string]cfnResource `json:"Resources"`
	Outputs   map[string]any         `json:"Outputs"`
}

// cfnResource is one resource of the resolved template.
type cfnResource struct {
	Type       string          `json:"Type"`
	Properties json.RawMessage `json:"Properties"`
}

// decodeProperties decodes the properties of resource name into v.
func (tpl *samTemplate) decodeProperties(t *testing.T, name string, v any) {
	t.Helper()
	res := tpl.Resources[name]
	decodeRaw(t, fmt.Sprintf("resource %s (%s)", name, res.Type), res.Properties, v)
}

// decodeRaw decodes raw (nothing when empty) into v, failing the test
// with what in the message when a value has the wrong JSON type.
func decodeRaw(t *testing.T, what string, raw json.RawMessage, v any) {
	t.Helper()
	if len(raw) == 0 {
		return
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// resource decodes the properties of resource name, which must exist
// with type typ, into v (when v is not nil).
func (tpl *samTemplate) resource(t *testing.T, name, typ string, v any) {
	t.Helper()
	if res, ok := tpl.Resources[name]; !ok || res.Type != typ {
		t.Fatalf("resource %q of type %s not found", name, typ)
	}
	if v != nil {
		tpl.decodeProperties(t, name, v)
	}
}

// namesOfType returns the logical ids of the resources of type typ, sorted.
func (tpl *samTemplate) namesOfType(typ string) []string {
	var out []string
	for name, res := range tpl.Resources {
		if res.Type == typ {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// samFunction is the view of an AWS::Serverless::Function's properties.
type samFunction struct {
	Handler       *string  `json:"Handler"`
	Runtime       *string  `json:"Runtime"`
	CodeUri       any      `json:"CodeUri"` // a path or an S3 location
	Architectures []string `json:"Architectures"`
	FunctionName  *string  `json:"FunctionName"`
	Role          any      `json:"Role"`
	Layers        []any    `json:"Layers"`
	Environment   *struct {
		Variables map[string]string `json:"Variables"`
	} `json:"Environment"`
	Events            map[string]samEvent `json:"Events"`
	EventInvokeConfig *struct {
		MaximumRetryAttempts *int `json:"MaximumRetryAttempts"`
	} `json:"EventInvokeConfig"`
	// Policies is decoded by inlinePolicies.
	Policies json.RawMessage `json:"Policies"`
}

// samEvent is one event source of a function; its Properties are decoded
// by decodeEvent into the view of its Type.
type samEvent struct {
	Type       string          `json:"Type"`
	Properties json.RawMessage `json:"Properties"`
}

// String shows the event's type and raw properties in failure messages.
func (e samEvent) String() string { return e.Type + " " + string(e.Properties) }

// decodeEvent decodes the properties of event ev (named name in messages),
// which must be of type typ, into v.
func decodeEvent(t *testing.T, name string, ev samEvent, typ string, v any) {
	t.Helper()
	if ev.Type != typ {
		t.Fatalf("%s: a %s event, want %s: %v", name, ev.Type, typ, ev)
	}
	decodeRaw(t, name, ev.Properties, v)
}

// httpAPIEvent is the view of an HttpApi event's properties.
type httpAPIEvent struct {
	ApiId  *string `json:"ApiId"`
	Method *string `json:"Method"`
	Path   *string `json:"Path"`
	Auth   *struct {
		Authorizer *string `json:"Authorizer"`
	} `json:"Auth"`
}

// s3Event is the view of an S3 event's properties.
type s3Event struct {
	Bucket string `json:"Bucket"`
	Events any    `json:"Events"` // an event name or a list of them
	Filter struct {
		S3Key struct {
			Rules []s3KeyRule `json:"Rules"`
		} `json:"S3Key"`
	} `json:"Filter"`
}

// s3KeyRule is one rule of an S3 event's key filter.
type s3KeyRule struct {
	Name  string `json:"Name"`
	Value string `json:"Value"`
}

// scheduleEvent is the view of a Schedule event's properties.
type scheduleEvent struct {
	Schedule string `json:"Schedule"`
}

// iamPolicyDocument is an inline policy document of a function; a
// statement removed by AWS::NoValue is nil.
type iamPolicyDocument struct {
	Version   *string `json:"Version"`
	Statement []any   `json:"Statement"`
}

// inlinePolicies decodes a function's Policies, which must be a list of
// inline policy documents: no managed policy name, SAM policy template or
// single document.
func inlinePolicies(raw json.RawMessage) ([]iamPolicyDocument, error) {
	var docs []json.RawMessage
	if len(raw) == 0 || string(raw) == "null" {
		return nil, errors.New("no policies")
	}
	if err := json.Unmarshal(raw, &docs); err != nil {
		return nil, fmt.Errorf("policies %s: not a list: %v", raw, err)
	}
	out := make([]iamPolicyDocument, 0, len(docs))
	for i, d := range docs {
		dec := json.NewDecoder(bytes.NewReader(d))
		dec.DisallowUnknownFields() // a SAM policy template is an object too
		var doc iamPolicyDocument
		if err := dec.Decode(&doc); err != nil {
			return nil, fmt.Errorf("policies[%d] %s: not a policy document: %v", i, d, err)
		}
		if doc.Statement == nil {
			return nil, fmt.Errorf("policies[%d] %s: no Statement list", i, d)
		}
		out = append(out, doc)
	}
	return out, nil
}

// s3Bucket is the view of an AWS::S3::Bucket's properties.
type s3Bucket struct {
	BucketName                     *string `json:"BucketName"`
	PublicAccessBlockConfiguration *struct {
		BlockPublicAcls       *bool `json:"BlockPublicAcls"`
		BlockPublicPolicy     *bool `json:"BlockPublicPolicy"`
		IgnorePublicAcls      *bool `json:"IgnorePublicAcls"`
		RestrictPublicBuckets *bool `json:"RestrictPublicBuckets"`
	} `json:"PublicAccessBlockConfiguration"`
	CorsConfiguration *struct {
		CorsRules []s3CorsRule `json:"CorsRules"`
	} `json:"CorsConfiguration"`
}

// s3CorsRule is one CORS rule of a bucket.
type s3CorsRule struct {
	AllowedOrigins []string `json:"AllowedOrigins"`
	AllowedMethods []string `json:"AllowedMethods"`
	AllowedHeaders []string `json:"AllowedHeaders"`
}

// cognitoUserPool is the view of an AWS::Cognito::UserPool's properties.
type cognitoUserPool struct {
	LambdaConfig *struct {
		PostConfirmation *string `json:"PostConfirmation"`
	} `json:"LambdaConfig"`
	UsernameAttributes []string `json:"UsernameAttributes"`
}

// cognitoUserPoolClient is the view of an AWS::Cognito::UserPoolClient's
// properties.
type cognitoUserPoolClient struct {
	ExplicitAuthFlows []string `json:"ExplicitAuthFlows"`
	GenerateSecret    *bool    `json:"GenerateSecret"`
}

// lambdaPermission is the view of an AWS::Lambda::Permission's properties.
type lambdaPermission struct {
	Action       string  `json:"Action"`
	FunctionName string  `json:"FunctionName"`
	Principal    string  `json:"Principal"`
	SourceArn    *string `json:"SourceArn"`
}
