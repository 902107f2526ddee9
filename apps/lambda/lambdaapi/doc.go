// Package lambdaapi serves API Gateway events with an http.Handler (the
// cloudpost Echo app): REST API events (payload format 1.0,
// events.APIGatewayProxyRequest) and HTTP API events (payload format 2.0,
// events.APIGatewayV2HTTPRequest) become *http.Request values, and what the
// handler writes becomes the matching proxy response.
//
// # Why a converter of our own
//
// awslabs/aws-lambda-go-api-proxy was considered (v0.16.2 is on the module
// proxy and handles v1, v2 and ALB events). It is not used because:
//
//   - it is one Go module for every framework adapter, so go.mod and go.sum
//     would take in gin, fiber, iris, fasthttp and friends for two files
//     of conversion code;
//   - its default conversion carries the API Gateway request context and
//     stage variables to the app in request headers
//     (X-GoLambdaProxy-ApiGw-Context), which a client can send itself:
//     the spoofing problem the issue names. Here the authorizer's claims
//     go from the event straight into the request context
//     (httpapi.WithPrincipal), which no header can reach, and client
//     headers of that name are dropped;
//   - it splits every non-singleton v2 header value on commas (breaking
//     values such as dates or quoted ETags), decides base64 only by UTF-8
//     validity, and strips stage prefixes only from a fixed configured
//     string.
//
// The conversion here is a few hundred lines with tests against the same
// Echo app served by net/http (the parity test in apps/lambda/lambdaapp).
//
// # Why its own JSON code
//
// Invoke reads the event and writes the response itself (jsonReader,
// reply.appendV1/appendV2) instead of using encoding/json with the events
// types. With encoding/json, decoding a 2-4 KB API Gateway event took
// 23-27 µs, more than the Echo app spends serving GET /v1/posts/{id}, so a
// warm invocation cost 2.4-5x the same request through Echo's ServeHTTP
// (BenchmarkGetPost in apps/lambda/lambdaapp). The reader validates the
// whole document in one pass and decodes only the members the converter
// uses, straight into what it needs (header values land in the request's
// http.Header; strings are slices of one copy of the payload), in 4-6 µs
// (BenchmarkDecodeEvent); writing the response takes 1.5 µs instead of
// 3.6 (BenchmarkWriteResponse). It keeps encoding/json's semantics
// (case-insensitive names, the last member wins, maps merge, null
// handling, U+FFFD for bad UTF-8 and lone surrogates, type errors), and
// the writer produces byte for byte what json.Marshal makes of the events
// response types: fuzz tests hold both to encoding/json. A faster JSON
// module (github.com/goccy/go-json v0.12.0) was measured too: it decodes
// a 2.5 KB HTTP API event into the events type in 3.8 µs where
// encoding/json takes 17, but it is a large dependency built on unsafe
// code, for two fixed shapes that take a few hundred lines here.
//
// # Rules
//
//   - Paths: HTTP APIs deliver rawPath (and 1.0 path) percent-decoded,
//     REST APIs still encoded; characters that cannot appear in an encoded
//     path are escaped, then the path is parsed like net/http parses a
//     request line. (An HTTP API has already turned %2F into '/', so a
//     path segment cannot contain a slash there; cloudpost ids never do.) A non-default stage prefix is removed (v2 rawPath
//     carries it; a v1 path carries it only when it equals
//     requestContext.path), then Options.BasePath (a custom domain's API
//     mapping key).
//   - Query: v2 rawQueryString as sent; v1 rebuilt from the (decoded)
//     multi-value parameters.
//   - Headers: v1 multiValueHeaders (falling back to headers), v2 headers
//     (API Gateway has already joined repeated headers with commas) plus
//     the cookies array as one Cookie header. Names are canonicalised;
//     names differing only in case add their values. Host becomes
//     Request.Host.
//   - Bodies: base64 request bodies are decoded. Response bodies are sent
//     as text when the content type is textual and the bytes are valid
//     UTF-8, else base64 with isBase64Encoded.
//   - Response headers: v1 multiValueHeaders (every Set-Cookie kept); v2
//     headers joined with commas and Set-Cookie values in cookies.
//   - Requests are HTTPS (API Gateway only accepts TLS), so Request.TLS is
//     set and the app sends HSTS as it does behind TLS locally.
//   - Auth: authorizer claims (v1 requestContext.authorizer.claims, v2
//     requestContext.authorizer.jwt.claims) become the principal; without
//     them the app verifies the bearer token itself.
//   - Errors outside the app (an undecodable event, a bad base64 body) are
//     answered with the same RFC 9457 problem the app would send
//     (httpapi.Problem).
package lambdaapi
