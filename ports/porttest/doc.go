// Package porttest holds one contract suite per port. Each suite is written
// once and run against every adapter of that port (the memory fakes always;
// MySQL, S3 and Cognito against real servers or emulators), so a fake that
// passes it can stand in for the real thing in unit tests. Like ports, it
// imports only the standard library.
package porttest
