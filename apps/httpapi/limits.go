package httpapi

import (
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/cloudpost/cloudpost/core/limits"
)

// ipExtractor returns how the client address is read: the connection's
// peer (on Lambda, API Gateway's sourceIp, which the lambda adapter puts in
// RemoteAddr), or, when the peer is one of the trusted proxies, the address
// that proxy appended to X-Forwarded-For. Nothing a client sends picks the
// address: without trusted proxies the header is ignored, and with them
// only entries added by trusted hops are skipped (Echo's extractor walks
// the list from the right).
func ipExtractor(trusted []netip.Prefix) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range trusted {
		opts = append(opts, echo.TrustIPRange(prefixNet(p)))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// limit counts the request against action's limits for the caller (when
// signed in: on authenticated routes it runs after authentication) and
// the client address, sets the RateLimit-Policy and RateLimit headers
// (draft-ietf-httpapi-ratelimit-headers) and answers 429 with Retry-After
// when a limit is exceeded.
func (a *api) limit(action limits.Action) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			p, _ := PrincipalFrom(c)
			st, err := a.Limits.Take(c.Request().Context(), action, p.UserID, c.RealIP())
			setRateLimitHeaders(c, st)
			if err != nil {
				return err
			}
			return next(c)
		}
	}
}

// setRateLimitHeaders writes one item per limit applied, e.g.
//
//	RateLimit-Policy: "post-user";q=60;w=3600, "post-addr";q=300;w=3600
//	RateLimit: "post-user";r=59;t=3599, "post-addr";r=299;t=3599
func setRateLimitHeaders(c echo.Context, st []limits.Status) {
	if len(st) == 0 {
		return
	}
	var policy, state strings.Builder
	for i, s := range st {
		if i > 0 {
			policy.WriteString(", ")
			state.WriteString(", ")
		}
		name := strconv.Quote(s.Name)
		policy.WriteString(name + ";q=" + strconv.Itoa(s.Rule.Max) + ";w=" + strconv.FormatInt(int64(s.Rule.Window.Seconds()), 10))
		reset := (s.Reset + time.Second - 1) / time.Second // whole seconds, rounded up
		state.WriteString(name + ";r=" + strconv.Itoa(s.Remaining) + ";t=" + strconv.FormatInt(int64(reset), 10))
	}
	h := c.Response().Header()
	h.Set("RateLimit-Policy", policy.String())
	h.Set("RateLimit", state.String())
}

// notRevoked refuses a caller whose session was ended (sign-out
// everywhere, password reset, account deletion) with 401. It runs after
// authentication on every authenticated route, whichever way the principal
// was established (bearer token, or an API Gateway authorizer on Lambda).
func (a *api) notRevoked(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		p, ok := PrincipalFrom(c)
		if ok {
			if err := a.Sessions.Check(c.Request().Context(), p); err != nil {
				return err
			}
		}
		return next(c)
	}
}

// prefixNet converts a prefix to the form Echo's trust options take.
func prefixNet(p netip.Prefix) *net.IPNet {
	p = p.Masked()
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
