package apigateway

import (
	"bytes"
	stdjson "encoding/json"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/go-json-experiment/json"
)

// BenchmarkJSON measures the two JSON libraries the module uses on
// Invoke's work: decoding a browser's HTTP API event with a JWT
// authorizer (testdata/v2-jwt-get.json, compacted as API Gateway sends
// it) into events.APIGatewayV2HTTPRequest, and encoding a typical
// response (the API's headers, a post as body). The package doc quotes
// the numbers.
func BenchmarkJSON(b *testing.B) {
	raw, err := os.ReadFile("testdata/v2-jwt-get.json")
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	if err := stdjson.Compact(&buf, raw); err != nil {
		b.Fatal(err)
	}
	payload := buf.Bytes()
	res := benchResponse()
	libs := []struct {
		name      string
		unmarshal func([]byte, any) error
		marshal   func(any) ([]byte, error)
	}{
		{"encoding-json", stdjson.Unmarshal, stdjson.Marshal},
		{"json-v2", func(b []byte, v any) error { return json.Unmarshal(b, v) }, func(v any) ([]byte, error) { return json.Marshal(v, encodeOptions) }},
	}
	var ops []benchOp
	for _, lib := range libs {
		ops = append(ops,
			benchOp{"decode-event/" + lib.name, func(b *testing.B) {
				var ev events.APIGatewayV2HTTPRequest
				if err := lib.unmarshal(payload, &ev); err != nil {
					b.Fatal(err)
				}
			}},
			benchOp{"encode-response/" + lib.name, func(b *testing.B) {
				if _, err := lib.marshal(&res); err != nil {
					b.Fatal(err)
				}
			}})
	}
	for _, op := range ops {
		b.Run(op.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				op.once(b)
			}
		})
	}
	// Every iteration runs each op once, so a shared machine's load hits
	// all alike: the json-v2/encoding-json ratios are comparable.
	b.Run("interleaved", func(b *testing.B) {
		total := make([]time.Duration, len(ops))
		for b.Loop() {
			for i, op := range ops {
				t := time.Now()
				op.once(b)
				total[i] += time.Since(t)
			}
		}
		for i, op := range ops {
			b.ReportMetric(float64(total[i].Nanoseconds())/float64(b.N), op.name+"-ns")
		}
		b.ReportMetric(float64(total[2])/float64(total[0]), "decode-v2/std")
		b.ReportMetric(float64(total[3])/float64(total[1]), "encode-v2/std")
	})
}

type benchOp struct {
	name string
	once func(b *testing.B)
}

func benchResponse() events.APIGatewayV2HTTPResponse {
	r := reply{status: 200, header: map[string][]string{
		"Content-Type": {"application/json"}, "Etag": {`W/"abc"`}, "Vary": {"Origin"}, "X-Request-Id": {"0123456789abcdef0123456789abcdef"},
		"Strict-Transport-Security": {"max-age=63072000"}, "X-Content-Type-Options": {"nosniff"}, "X-Frame-Options": {"DENY"},
		"Referrer-Policy": {"no-referrer"}, "Content-Security-Policy": {"default-src 'none'"}, "Cache-Control": {"private, no-cache"},
		"Access-Control-Allow-Origin": {"https://app.example.com"}, "Access-Control-Expose-Headers": {"Etag, Location"},
	}, body: []byte(`{"id":"01934f0e-8f7a-7c3e-9d2b-5a1e2c3d4e5f","authorId":"8a6b0f2e-0000-4000-8000-000000000004","body":"Un café à Paris 😀","media":[],"createdAt":"2026-11-25T05:28:48Z","updatedAt":"2026-11-25T05:28:48Z","commentCount":0}`)}
	return r.response()
}
