package lambdaapi

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// BenchmarkDecodeEvent compares reading the testdata events (an HTTP API
// GET with a JWT authorizer, a REST API POST with a Cognito authorizer)
// into what the converter needs, against encoding/json into the events
// types followed by the same conversion (ServeV1/ServeV2's path).
func BenchmarkDecodeEvent(b *testing.B) {
	evs := testdataEvents(b)
	for i, name := range []string{"v2", "v1", "v2-compact", "v1-compact"} {
		var payload []byte
		if i < 2 {
			payload = evs[i]
		} else {
			// API Gateway sends compact JSON.
			var buf bytes.Buffer
			if err := json.Compact(&buf, evs[i-2]); err != nil {
				b.Fatal(err)
			}
			payload = buf.Bytes()
		}
		b.Run(name+"/reader", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(payload)))
			for b.Loop() {
				if _, _, err := decodeEvent(payload); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/encoding-json", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(payload)))
			for b.Loop() {
				if name[:2] == "v2" {
					var ev events.APIGatewayV2HTTPRequest
					if err := json.Unmarshal(payload, &ev); err != nil {
						b.Fatal(err)
					}
					e := eventV2From(&ev)
					_ = e.apiEvent()
				} else {
					var ev events.APIGatewayProxyRequest
					if err := json.Unmarshal(payload, &ev); err != nil {
						b.Fatal(err)
					}
					e := eventV1From(&ev)
					_ = e.apiEvent()
				}
			}
		})
	}
}

// BenchmarkWriteResponse compares writing a typical JSON response (API
// headers, a post as body) by hand against json.Marshal of the events type.
func BenchmarkWriteResponse(b *testing.B) {
	r := reply{status: 200, header: map[string][]string{
		"Content-Type": {"application/json"}, "Etag": {`W/"abc"`}, "Vary": {"Origin"}, "X-Request-Id": {"0123456789abcdef0123456789abcdef"},
		"Strict-Transport-Security": {"max-age=63072000"}, "X-Content-Type-Options": {"nosniff"}, "X-Frame-Options": {"DENY"},
		"Referrer-Policy": {"no-referrer"}, "Content-Security-Policy": {"default-src 'none'"}, "Cache-Control": {"private, no-cache"},
		"Access-Control-Allow-Origin": {"https://app.example.com"}, "Access-Control-Expose-Headers": {"Etag, Location"},
	}, body: []byte(`{"id":"01934f0e-8f7a-7c3e-9d2b-5a1e2c3d4e5f","authorId":"8a6b0f2e-0000-4000-8000-000000000004","body":"Un café à Paris 😀","media":[],"createdAt":"2026-11-25T05:28:48Z","updatedAt":"2026-11-25T05:28:48Z","commentCount":0}`)}
	b.Run("v2/hand", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = r.appendV2(make([]byte, 0, r.sizeHint()))
		}
	})
	b.Run("v2/encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(r.v2()); err != nil {
				b.Fatal(err)
			}
		}
	})
}
