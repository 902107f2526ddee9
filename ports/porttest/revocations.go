package porttest

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

// RunRevocations runs the contract suite of ports.Revocations: no record
// reads as the zero time, a later instant replaces an earlier one and never
// the other way round (in either order and under concurrent calls), records
// are per user, survive DeleteUser, keep at least microsecond precision,
// and an empty user id is Invalid. It needs a whole ports.Storage because
// the record must outlive the account (DeleteUser).
//
// newStore is called once per subtest and must return an empty store that
// shares no data with any other store it returned: the subtests run in
// parallel. It may register cleanups on t.
func RunRevocations(t *testing.T, newStore func(t *testing.T) ports.Storage) {
	parallelCases(t, "Revocations", []namedCase[*storageFix]{
		{"NoneIsZero", revokeNone},
		{"LaterWins", revokeLaterWins},
		{"ConcurrentLatestWins", revokeConcurrent},
		{"PerUser", revokePerUser},
		{"SurvivesDeleteUser", revokeSurvivesDelete},
		{"MicrosecondPrecision", revokePrecision},
		{"Invalid", revokeInvalid},
	}, func(t *testing.T) *storageFix {
		return &storageFix{t: t, ctx: t.Context(), s: nonNil(t, newStore(t))}
	})
}

// revokeBase is an instant with microseconds, which every store keeps.
var revokeBase = time.Date(2025, 6, 7, 8, 9, 10, 123456000, time.UTC)

// revoke records a revocation and fails the test on an error.
func (f *storageFix) revoke(user string, at time.Time) {
	f.t.Helper()
	if err := f.s.RevokeTokens(f.ctx, user, at); err != nil {
		f.t.Fatalf("RevokeTokens(%s, %s): %v", user, at.Format(time.RFC3339Nano), err)
	}
}

// expectRevoked checks what TokensRevokedBefore returns for user (the zero
// time for none).
func (f *storageFix) expectRevoked(user string, want time.Time, what string) {
	f.t.Helper()
	got, err := f.s.TokensRevokedBefore(f.ctx, user)
	if err != nil {
		f.t.Fatalf("%s: TokensRevokedBefore(%s): %v", what, user, err)
	}
	if !got.Equal(want) || got.IsZero() != want.IsZero() {
		f.t.Errorf("%s: TokensRevokedBefore(%s) = %s, want %s", what, user, got.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano))
	}
}

func revokeNone(t *testing.T, f *storageFix) {
	f.expectRevoked(NewID(), time.Time{}, "unknown user")
	f.expectRevoked("", time.Time{}, "empty id")
	p := f.profile()
	f.expectRevoked(p.ID, time.Time{}, "user who never signed out")
	// The zero time revokes nothing.
	f.revoke(p.ID, time.Time{})
	f.expectRevoked(p.ID, time.Time{}, "after revoking at the zero time")
}

func revokeLaterWins(t *testing.T, f *storageFix) {
	early, late := revokeBase, revokeBase.Add(time.Hour)
	up, down := NewID(), NewID()
	f.revoke(up, early)
	f.expectRevoked(up, early, "first revocation")
	f.revoke(up, late)
	f.expectRevoked(up, late, "earlier then later")
	f.revoke(down, late)
	f.revoke(down, early)
	f.expectRevoked(down, late, "later then earlier")
	f.revoke(down, late)
	f.expectRevoked(down, late, "the same instant again")
	// One microsecond apart, both orders.
	f.revoke(up, late.Add(time.Microsecond))
	f.expectRevoked(up, late.Add(time.Microsecond), "a microsecond later")
	f.revoke(up, late)
	f.expectRevoked(up, late.Add(time.Microsecond), "a microsecond earlier")
	f.revoke(down, time.Time{})
	f.expectRevoked(down, late, "the zero time after an instant")
}

func revokeConcurrent(t *testing.T, f *storageFix) {
	user := NewID()
	const n = 20
	order := rand.Perm(n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, k := range order {
		wg.Go(func() { errs[i] = f.s.RevokeTokens(f.ctx, user, revokeBase.Add(time.Duration(k)*time.Millisecond)) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("RevokeTokens %d: %v", i, err)
		}
	}
	f.expectRevoked(user, revokeBase.Add((n-1)*time.Millisecond), "after concurrent revocations")
}

func revokePerUser(t *testing.T, f *storageFix) {
	a, b, c := NewID(), NewID(), NewID()
	f.revoke(a, revokeBase)
	f.revoke(b, revokeBase.Add(time.Minute))
	f.expectRevoked(a, revokeBase, "user a")
	f.expectRevoked(b, revokeBase.Add(time.Minute), "user b")
	f.expectRevoked(c, time.Time{}, "user c, never revoked")
}

func revokeSurvivesDelete(t *testing.T, f *storageFix) {
	p := f.profile()
	m := f.media(p.ID, domain.PurposePost)
	f.post(p.ID, m.ID)
	f.revoke(p.ID, revokeBase)
	if _, err := f.s.DeleteUser(f.ctx, p.ID); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	f.expectRevoked(p.ID, revokeBase, "after DeleteUser")
	// Revoked again after the account is gone (the deletion flow may
	// revoke last): still recorded.
	f.revoke(p.ID, revokeBase.Add(time.Second))
	if _, err := f.s.DeleteUser(f.ctx, p.ID); err != nil {
		t.Fatalf("DeleteUser of a deleted user: %v", err)
	}
	f.expectRevoked(p.ID, revokeBase.Add(time.Second), "after a second DeleteUser")
	// A user with no profile.
	ghost := NewID()
	f.revoke(ghost, revokeBase)
	if _, err := f.s.DeleteUser(f.ctx, ghost); err != nil {
		t.Fatalf("DeleteUser without a profile: %v", err)
	}
	f.expectRevoked(ghost, revokeBase, "DeleteUser without a profile")
}

func revokePrecision(t *testing.T, f *storageFix) {
	for i, at := range []time.Time{
		revokeBase,
		revokeBase.Add(time.Microsecond),
		time.Date(2030, 1, 1, 0, 0, 0, 999999000, time.UTC),
		// Another zone: the same instant.
		time.Date(2025, 6, 7, 10, 9, 10, 654321000, time.FixedZone("CEST", 2*3600)),
		// A wall-clock time in the local zone, at microseconds.
		time.Now().Truncate(time.Microsecond),
	} {
		user := NewID()
		f.revoke(user, at)
		f.expectRevoked(user, at, fmt.Sprintf("instant %d", i))
	}
}

func revokeInvalid(t *testing.T, f *storageFix) {
	storageWantCode(t, f.s.RevokeTokens(f.ctx, "", revokeBase), domain.Invalid, "RevokeTokens with an empty user id")
	f.expectRevoked("", time.Time{}, "empty id after a refused revocation")
}
