// Package apigateway serves API Gateway HTTP API events (payload format
// 2.0, events.APIGatewayV2HTTPRequest) with an http.Handler (the
// cloudpost Echo app): each event becomes an *http.Request, and what the
// handler writes becomes the events.APIGatewayV2HTTPResponse. Handler.Invoke
// is the function's lambda.Handler; ServeV2 serves an event decoded
// elsewhere. REST APIs (payload format 1.0) are not served: the SAM
// template deploys only an HTTP API.
//
// # Rules
//
//   - Events: only version "2.0". Anything else (no version, "1.0", a REST
//     API event), and any payload that does not decode, is answered with
//     a 400 problem, never an invocation error.
//   - Paths: rawPath (else requestContext.http.path), which HTTP APIs pass
//     percent-decoded; characters that cannot appear in an encoded path
//     are escaped, then the path is parsed like net/http parses a request
//     line. (An HTTP API has already turned %2F into '/', so a path
//     segment cannot contain a slash; cloudpost ids never do.) A named
//     stage's prefix ("/prod") is removed, then Options.BasePath (a custom
//     domain's API mapping key).
//   - Query: rawQueryString as sent.
//   - Headers: names canonicalised (API Gateway has already joined
//     repeated headers with commas); the cookies array becomes one Cookie
//     header. Host becomes Request.Host (else the API's domain name).
//     Client headers named like aws-lambda-go-api-proxy's context headers
//     (X-GoLambdaProxy-*) are dropped.
//   - Bodies: base64 request bodies are decoded. Response bodies are sent
//     as text when the content type is textual and the bytes are valid
//     UTF-8, else base64 with isBase64Encoded. HEAD, 1xx, 204 and 304
//     responses have no body; a missing Content-Type is sniffed.
//   - Response headers: repeated values joined with commas, Set-Cookie
//     values in cookies.
//   - Requests are HTTPS (API Gateway only accepts TLS), so Request.TLS is
//     set and the app sends HSTS as it does behind TLS locally. The source
//     IP is RemoteAddr; the API request id is in the context
//     (APIRequestID).
//   - Auth: a JWT authorizer's claims (requestContext.authorizer.jwt.claims)
//     of an access token become the principal (PrincipalFromClaims), put
//     into the request context (httpapi.WithPrincipal), which no header can
//     reach. Other claims, Lambda and IAM authorizers give no principal:
//     the app then verifies the bearer token itself.
//   - Errors outside the app (an unreadable or unsupported event, a bad
//     method, path or base64 body) are answered with the same RFC 9457
//     problem the app would send (httpapi.Problem).
//
// # Why not aws-lambda-go-api-proxy
//
// awslabs/aws-lambda-go-api-proxy is one Go module for every framework
// adapter (gin, fiber, iris, fasthttp... would enter go.sum); it passes
// the API Gateway context to the app in request headers
// (X-GoLambdaProxy-ApiGw-Context) that a client can send itself; and it
// splits every v2 header value on commas (breaking dates and quoted
// ETags). The conversion here is a few hundred lines, tested against the
// same Echo app served by net/http (the parity test in apps/lambda/functions).
//
// # JSON
//
// Events are decoded and responses encoded with the events types and
// github.com/go-json-experiment/json (json v2). The module already uses
// it for strict request bodies (apps/httpapi) beside encoding/json, so
// neither choice adds a library; json v2 decodes an event in less than
// half the time. Decoding a 2.2 KB browser event with a JWT authorizer
// (testdata/v2-jwt-get.json, compacted as API Gateway sends it) into
// events.APIGatewayV2HTTPRequest took 14-19 µs with json v2 and 34-54 µs
// with encoding/json (59 allocations instead of 153); encoding a typical
// response took 2.9-4.5 µs and 4.1-6.6 µs (3 allocations instead of 26).
// On that shared 2-core machine the interleaved sub-benchmark, which
// loads both alike, put json v2 at 0.44-0.54x encoding/json's time for
// decoding and 0.59-0.79x for encoding. Measured with
//
//	go test -run '^$' -bench BenchmarkJSON -count 5 ./apps/lambda/apigateway/
//
// Decoding keeps json v2's strict defaults, since API Gateway writes
// exact member names, each once, in valid UTF-8: a name in another case
// is not that member (unknown members are ignored), and a duplicate name
// (two "sub" claims, two authorization headers) or invalid UTF-8 makes
// the event unreadable (400) rather than letting the last one win or
// replacing bytes, so an ambiguous event can never choose the caller.
// Responses are encoded as encoding/json encodes the events type (nil
// maps and slices as null), with invalid UTF-8 in header values replaced
// by U+FFFD.
package apigateway
