package webpush

import (
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/cloudpost/cloudpost/core/domain"
)

// DefaultAllowedHosts returns the push services of the browsers in use,
// the default of Config.AllowedHosts (a new slice each call):
//
//   - fcm.googleapis.com: Chrome, Edge on Android, Opera, Samsung Internet,
//     Brave and the other Chromium browsers (endpoints /fcm/send/... and /wp/...);
//   - push.services.mozilla.com: Firefox (updates.push.services.mozilla.com);
//   - web.push.apple.com: Safari on macOS 13+, iOS and iPadOS 16.4+;
//   - notify.windows.com: Edge on Windows (Windows Push Notification
//     Services, hosts such as wns2-par02p.notify.windows.com).
//
// The legacy android.googleapis.com (GCM) endpoints are left out: that
// service was shut down, so a subscription there can no longer receive.
func DefaultAllowedHosts() []string {
	return []string{
		"fcm.googleapis.com",
		"push.services.mozilla.com",
		"web.push.apple.com",
		"notify.windows.com",
	}
}

// hostRule is one entry of the allow-list: the host itself and its
// subdomains, or only its subdomains.
type hostRule struct {
	host    string
	subOnly bool
}

// parseHosts normalises Config.AllowedHosts: lower case, no trailing dot;
// "*.example.com" and ".example.com" mean the subdomains only.
func parseHosts(list []string) ([]hostRule, error) {
	if len(list) == 0 {
		list = DefaultAllowedHosts()
	}
	rules := make([]hostRule, 0, len(list))
	for _, h := range list {
		r := hostRule{host: strings.TrimSuffix(strings.ToLower(strings.TrimSpace(h)), ".")}
		if rest, ok := strings.CutPrefix(r.host, "*."); ok {
			r.host, r.subOnly = rest, true
		} else if rest, ok := strings.CutPrefix(r.host, "."); ok {
			r.host, r.subOnly = rest, true
		}
		if r.host == "" || strings.ContainsAny(r.host, "/:@*?# \t") && net.ParseIP(r.host) == nil {
			return nil, fmt.Errorf("webpush: AllowedHosts: %q is not a host name (give a host or host suffix such as push.example.com, no scheme, port or path)", h)
		}
		rules = append(rules, r)
	}
	return rules, nil
}

// allowed reports whether host (lower case, without port) matches a rule.
func allowed(rules []hostRule, host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	for _, r := range rules {
		if host == r.host && !r.subOnly || strings.HasSuffix(host, "."+r.host) {
			return true
		}
	}
	return false
}

// checkEndpoint refuses an endpoint that is not an https URL on an allowed
// host: the server must never be made to POST to an address a client chose
// (an internal service, the cloud metadata address). Returns Invalid.
func (p *Pusher) checkEndpoint(endpoint string) (*url.URL, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.Opaque != "" {
		return nil, domain.Errorf(domain.Invalid, "subscription.endpoint must be an https URL without credentials")
	}
	if !allowed(p.hosts, u.Hostname()) {
		return nil, domain.Errorf(domain.Invalid, "subscription.endpoint is not on a known Web Push service (host %q is not allowed)", u.Hostname())
	}
	return u, nil
}
