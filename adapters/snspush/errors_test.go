package snspush_test

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/adapters/snspush"
	"github.com/cloudpost/cloudpost/adapters/snspush/mototest"
	"github.com/cloudpost/cloudpost/core/domain"
)

// stubSNS answers SNS's query protocol with canned answers, for the
// answers moto never gives (throttling, SNS's own error texts, 5xx).
type stubSNS struct {
	mu      sync.Mutex
	calls   []url.Values
	handler func(action string, form url.Values) (status int, header http.Header, body string)
}

func (s *stubSNS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	form, _ := url.ParseQuery(string(body))
	s.mu.Lock()
	s.calls = append(s.calls, form)
	s.mu.Unlock()
	status, header, out := s.handler(form.Get("Action"), form)
	for k, v := range header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	io.WriteString(w, out)
}

// actions returns the actions called so far.
func (s *stubSNS) actions() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, c := range s.calls {
		out = append(out, c.Get("Action"))
	}
	return out
}

func snsError(code, message string) string {
	return fmt.Sprintf(`<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>req-1</RequestId></ErrorResponse>`, code, message)
}

func snsOK(action, result string) string {
	return fmt.Sprintf(`<%[1]sResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><%[1]sResult>%[2]s</%[1]sResult><ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></%[1]sResponse>`, action, result)
}

func endpointAttributes(attrs map[string]string) string {
	var b strings.Builder
	b.WriteString("<Attributes>")
	for k, v := range attrs {
		fmt.Fprintf(&b, "<entry><key>%s</key><value>%s</value></entry>", k, v)
	}
	b.WriteString("</Attributes>")
	return snsOK("GetEndpointAttributes", b.String())
}

const (
	stubApp      = "arn:aws:sns:eu-west-1:123456789012:app/GCM/cloudpost"
	stubEndpoint = "arn:aws:sns:eu-west-1:123456789012:endpoint/GCM/cloudpost/5f3b1c2d-0000-4000-8000-000000000001"
)

// stubPusher returns a Pusher on a stub SNS and the log it writes.
func stubPusher(t *testing.T, handler func(action string, form url.Values) (int, http.Header, string)) (*snspush.Pusher, *stubSNS, *bytes.Buffer) {
	t.Helper()
	stub := &stubSNS{handler: handler}
	srv := httptest.NewServer(stub)
	t.Cleanup(srv.Close)
	var logBuf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := snspush.Config{Endpoint: srv.URL, FCMApplicationARN: stubApp}
	p, err := snspush.NewWithAWS(cfg, mototest.AWSConfig(), log)
	if err != nil {
		t.Fatal(err)
	}
	return p, stub, &logBuf
}

// TestErrorMapping checks how SNS's answers become domain errors, with the
// texts SNS itself sends.
func TestErrorMapping(t *testing.T) {
	d := domain.Device{ID: "d1", UserID: "u1", Platform: domain.PlatformFCM, Token: "secret-token-123", ChannelRef: stubEndpoint}
	for _, tc := range []struct {
		name       string
		status     int
		header     http.Header
		body       string
		want       domain.Code
		retryAfter time.Duration
	}{
		{"endpoint disabled", 400, nil, snsError("EndpointDisabled", "Endpoint is disabled"), domain.NotFound, 0},
		{"endpoint deleted", 400, nil, snsError("InvalidParameter", "Invalid parameter: TargetArn Reason: No endpoint found for the target arn specified"), domain.NotFound, 0},
		{"not found", 404, nil, snsError("NotFound", "Endpoint does not exist"), domain.NotFound, 0},
		{"throttled", 400, nil, snsError("Throttled", "Rate exceeded"), domain.TooManyRequests, 0},
		{"429 with Retry-After", 429, http.Header{"Retry-After": {"7"}}, snsError("Throttling", "Rate exceeded"), domain.TooManyRequests, 7 * time.Second},
		{"KMS throttling", 400, nil, snsError("KMSThrottling", "KMS rate exceeded"), domain.TooManyRequests, 0},
		{"message refused", 400, nil, snsError("InvalidParameter", "Invalid parameter: Message too long"), domain.Invalid, 0},
		{"message structure refused", 400, nil, snsError("InvalidParameter", "Invalid parameter: Message Structure - JSON message body failed to parse"), domain.Invalid, 0},
		{"application disabled", 400, nil, snsError("PlatformApplicationDisabled", "Platform application is disabled"), domain.Unavailable, 0},
		{"authorization", 403, nil, snsError("AuthorizationError", "not authorized to perform: SNS:Publish"), domain.Unavailable, 0},
		{"internal error", 500, nil, snsError("InternalError", "internal failure"), domain.Unavailable, 0},
		{"unavailable with Retry-After", 503, http.Header{"Retry-After": {"3"}}, snsError("ServiceUnavailable", "try later"), domain.Unavailable, 3 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, _, logBuf := stubPusher(t, func(string, url.Values) (int, http.Header, string) {
				return tc.status, tc.header, tc.body
			})
			m := message()
			err := p.Send(t.Context(), d, m)
			expectCode(t, err, tc.want, "Send")
			if got := domain.RetryAfter(err); got != tc.retryAfter {
				t.Errorf("RetryAfter = %v, want %v", got, tc.retryAfter)
			}
			for _, secret := range []string{d.Token, m.Title, m.Body} {
				if strings.Contains(logBuf.String(), secret) || strings.Contains(err.Error(), secret) {
					t.Errorf("%q is in the log or the error", secret)
				}
			}
		})
	}

	t.Run("Unregister", func(t *testing.T) {
		p, _, _ := stubPusher(t, func(action string, _ url.Values) (int, http.Header, string) {
			return 404, nil, snsError("NotFound", "Endpoint does not exist")
		})
		if err := p.Unregister(t.Context(), d); err != nil {
			t.Errorf("Unregister of a deleted endpoint: %v", err)
		}
		p, _, _ = stubPusher(t, func(action string, _ url.Values) (int, http.Header, string) {
			if action == "GetEndpointAttributes" {
				return 200, nil, endpointAttributes(map[string]string{"Token": d.Token, "Enabled": "true", "CustomUserData": d.UserID})
			}
			return 500, nil, snsError("InternalError", "internal failure")
		})
		expectCode(t, p.Unregister(t.Context(), d), domain.Unavailable, "Unregister when SNS fails")
	})
}

// TestRegisterWithSNSAnswers walks Register through SNS's answers: the
// "already exists" error in SNS's words, an outdated token, a refused
// token, throttling.
func TestRegisterWithSNSAnswers(t *testing.T) {
	d := domain.Device{ID: "d1", UserID: "u1", Platform: domain.PlatformFCM, Token: "fresh-token-456"}

	t.Run("already exists with other attributes", func(t *testing.T) {
		p, stub, _ := stubPusher(t, func(action string, form url.Values) (int, http.Header, string) {
			switch action {
			case "CreatePlatformEndpoint":
				return 400, nil, snsError("InvalidParameter", "Invalid parameter: Token Reason: Endpoint "+stubEndpoint+" already exists with the same Token, but different attributes.")
			case "GetEndpointAttributes":
				return 200, nil, endpointAttributes(map[string]string{"Token": d.Token, "Enabled": "false", "CustomUserData": "u0"})
			case "SetEndpointAttributes":
				if form.Get("EndpointArn") != stubEndpoint {
					return 400, nil, snsError("InvalidParameter", "Invalid parameter: EndpointArn")
				}
				return 200, nil, `<SetEndpointAttributesResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></SetEndpointAttributesResponse>`
			}
			return 400, nil, snsError("InvalidAction", action)
		})
		got, err := p.Register(t.Context(), d)
		if err != nil {
			t.Fatalf("Register: %v", err)
		}
		if got.ChannelRef != stubEndpoint {
			t.Errorf("ChannelRef %q, want %q", got.ChannelRef, stubEndpoint)
		}
		want := []string{"CreatePlatformEndpoint", "GetEndpointAttributes", "SetEndpointAttributes"}
		if a := stub.actions(); strings.Join(a, ",") != strings.Join(want, ",") {
			t.Errorf("calls %v, want %v", a, want)
		}
		set := stub.calls[2]
		attrs := map[string]string{}
		for i := 1; set.Has(fmt.Sprintf("Attributes.entry.%d.key", i)); i++ {
			attrs[set.Get(fmt.Sprintf("Attributes.entry.%d.key", i))] = set.Get(fmt.Sprintf("Attributes.entry.%d.value", i))
		}
		if attrs["Enabled"] != "true" || attrs["Token"] != d.Token || attrs["CustomUserData"] != d.UserID {
			t.Errorf("SetEndpointAttributes %v, want Enabled=true, the token and the user", attrs)
		}
	})

	t.Run("up to date", func(t *testing.T) {
		p, stub, _ := stubPusher(t, func(action string, _ url.Values) (int, http.Header, string) {
			return 200, nil, endpointAttributes(map[string]string{"Token": d.Token, "Enabled": "true", "CustomUserData": d.UserID})
		})
		known := d
		known.ChannelRef = stubEndpoint
		if _, err := p.Register(t.Context(), known); err != nil {
			t.Fatal(err)
		}
		if a := stub.actions(); strings.Join(a, ",") != "GetEndpointAttributes" {
			t.Errorf("calls %v, want only GetEndpointAttributes", a)
		}
	})

	t.Run("token refused", func(t *testing.T) {
		p, _, logBuf := stubPusher(t, func(string, url.Values) (int, http.Header, string) {
			return 400, nil, snsError("InvalidParameter", "Invalid parameter: Token Reason: "+d.Token+" is not a valid registration token")
		})
		_, err := p.Register(t.Context(), d)
		expectCode(t, err, domain.Invalid, "Register with a refused token")
		if strings.Contains(err.Error(), d.Token) || strings.Contains(logBuf.String(), d.Token) {
			t.Errorf("the token is in the error or the log: %v\n%s", err, logBuf.String())
		}
	})

	t.Run("throttled", func(t *testing.T) {
		p, _, _ := stubPusher(t, func(string, url.Values) (int, http.Header, string) {
			return 429, http.Header{"Retry-After": {"2"}}, snsError("Throttled", "Rate exceeded")
		})
		_, err := p.Register(t.Context(), d)
		expectCode(t, err, domain.Unavailable, "Register when throttled")
		if domain.RetryAfter(err) != 2*time.Second {
			t.Errorf("RetryAfter = %v, want 2s", domain.RetryAfter(err))
		}
	})

	t.Run("application missing", func(t *testing.T) {
		p, _, logBuf := stubPusher(t, func(string, url.Values) (int, http.Header, string) {
			return 404, nil, snsError("NotFound", "PlatformApplication does not exist")
		})
		_, err := p.Register(t.Context(), d)
		expectCode(t, err, domain.Unavailable, "Register with a missing application")
		if !strings.Contains(logBuf.String(), "level=ERROR") {
			t.Errorf("a missing application is not logged as an error:\n%s", logBuf.String())
		}
	})
}
