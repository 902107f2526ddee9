package porttest

import (
	"sync"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
)

var storageTokenCases = []storageCase{
	{name: "PutTake", run: storageTokenPutTake},
	{name: "Expired", run: storageTokenExpired},
	{name: "WrongPurpose", run: storageTokenWrongPurpose},
	{name: "DuplicateHash", run: storageTokenDuplicate},
	{name: "Invalid", run: storageTokenInvalid},
	{name: "ConcurrentTakers", run: storageTokenConcurrentTake},
	{name: "Prune", run: storageTokenPrune},
}

const storageTokenPurpose = "porttest-stream"

// storageNewToken returns a token of user made at now that expires a
// minute later.
func storageNewToken(user string, now time.Time) domain.OneTimeToken {
	return domain.OneTimeToken{
		Hash: "sha256:" + storageHexToken(), Purpose: storageTokenPurpose, UserID: user,
		AuthTime: now.Add(-time.Hour), ExpiresAt: now.Add(time.Minute),
	}
}

func (f *storageFix) putToken(tok domain.OneTimeToken) {
	f.t.Helper()
	if err := f.s.PutOneTimeToken(f.ctx, tok); err != nil {
		f.t.Fatalf("PutOneTimeToken: %v", err)
	}
}

// takeToken takes hash at now and checks that it returns want (nil: NotFound).
func (f *storageFix) takeToken(what, hash, purpose string, now time.Time, want *domain.OneTimeToken) {
	f.t.Helper()
	got, err := f.s.TakeOneTimeToken(f.ctx, hash, purpose, now)
	if want == nil {
		storageWantCode(f.t, err, domain.NotFound, what)
		return
	}
	if err != nil {
		f.t.Errorf("%s: TakeOneTimeToken: %v", what, err)
		return
	}
	storageSame(f.t, what, got, *want)
}

func storageTokenPutTake(t *testing.T, f *storageFix) {
	a := f.profile()
	t0 := storageNow()
	tok, other := storageNewToken(a.ID, t0), storageNewToken(a.ID, t0)
	f.putToken(tok)
	f.putToken(other)
	f.takeToken("take", tok.Hash, tok.Purpose, t0, &tok)
	f.takeToken("take again", tok.Hash, tok.Purpose, t0, nil)
	f.takeToken("unknown hash", "sha256:"+storageHexToken(), storageTokenPurpose, t0, nil)
	f.takeToken("the other token", other.Hash, other.Purpose, t0.Add(time.Second), &other)
}

func storageTokenExpired(t *testing.T, f *storageFix) {
	a := f.profile()
	t0 := storageNow()
	late, inTime := storageNewToken(a.ID, t0), storageNewToken(a.ID, t0)
	f.putToken(late)
	f.putToken(inTime)
	f.takeToken("after ExpiresAt", late.Hash, late.Purpose, late.ExpiresAt.Add(time.Millisecond), nil)
	f.takeToken("long after ExpiresAt", late.Hash, late.Purpose, late.ExpiresAt.Add(time.Hour), nil)
	f.takeToken("just before ExpiresAt", inTime.Hash, inTime.Purpose, inTime.ExpiresAt.Add(-time.Millisecond), &inTime)
}

func storageTokenWrongPurpose(t *testing.T, f *storageFix) {
	a := f.profile()
	t0 := storageNow()
	tok := storageNewToken(a.ID, t0)
	f.putToken(tok)
	f.takeToken("other purpose", tok.Hash, "porttest-upload", t0, nil)
	f.takeToken("right purpose after a wrong one", tok.Hash, tok.Purpose, t0, &tok)
}

func storageTokenDuplicate(t *testing.T, f *storageFix) {
	a, b := f.profile(), f.profile()
	t0 := storageNow()
	tok := storageNewToken(a.ID, t0)
	f.putToken(tok)
	dup := storageNewToken(b.ID, t0.Add(time.Second))
	dup.Hash, dup.Purpose = tok.Hash, "porttest-other"
	storageWantCode(t, f.s.PutOneTimeToken(f.ctx, dup), domain.Conflict, "PutOneTimeToken(duplicate hash)")
	same := tok
	storageWantCode(t, f.s.PutOneTimeToken(f.ctx, same), domain.Conflict, "PutOneTimeToken(the same token twice)")
	f.takeToken("duplicate's purpose", tok.Hash, dup.Purpose, t0, nil)
	f.takeToken("the first token", tok.Hash, tok.Purpose, t0, &tok)
}

func storageTokenInvalid(t *testing.T, f *storageFix) {
	a := f.profile()
	t0 := storageNow()
	for _, c := range []struct {
		what string
		edit func(*domain.OneTimeToken)
	}{
		{"empty hash", func(tok *domain.OneTimeToken) { tok.Hash = "" }},
		{"empty purpose", func(tok *domain.OneTimeToken) { tok.Purpose = "" }},
		{"empty user id", func(tok *domain.OneTimeToken) { tok.UserID = "" }},
	} {
		tok := storageNewToken(a.ID, t0)
		c.edit(&tok)
		storageWantCode(t, f.s.PutOneTimeToken(f.ctx, tok), domain.Invalid, "PutOneTimeToken("+c.what+")")
		f.takeToken("refused token ("+c.what+")", tok.Hash, tok.Purpose, t0, nil)
	}
}

// Of concurrent takers of one token, exactly one gets it.
func storageTokenConcurrentTake(t *testing.T, f *storageFix) {
	a := f.profile()
	t0 := storageNow()
	tok := storageNewToken(a.ID, t0)
	f.putToken(tok)
	const takers = 8
	got := make([]domain.OneTimeToken, takers)
	errs := make([]error, takers)
	var start, wg sync.WaitGroup
	start.Add(1)
	for i := range takers {
		wg.Go(func() {
			start.Wait()
			got[i], errs[i] = f.s.TakeOneTimeToken(f.ctx, tok.Hash, tok.Purpose, t0)
		})
	}
	start.Done()
	wg.Wait()
	winners := 0
	for i, err := range errs {
		switch domain.ErrorCode(err) {
		case "":
			winners++
			storageSame(t, "token the winner took", got[i], tok)
		case domain.NotFound:
		default:
			t.Errorf("taker %d: unexpected error %v", i, err)
		}
	}
	if winners != 1 {
		t.Errorf("%d of %d concurrent takers got the token, want exactly 1", winners, takers)
	}
}

func storageTokenPrune(t *testing.T, f *storageFix) {
	a := f.profile()
	t0 := storageNow()
	mk := func(expires time.Time) domain.OneTimeToken {
		tok := storageNewToken(a.ID, t0)
		tok.ExpiresAt = expires
		f.putToken(tok)
		return tok
	}
	longGone, justGone := mk(t0.Add(-time.Hour)), mk(t0.Add(-time.Millisecond))
	atCutoff, live := mk(t0), mk(t0.Add(time.Hour))
	n, err := f.s.PruneOneTimeTokens(f.ctx, t0)
	if err != nil {
		t.Fatalf("PruneOneTimeTokens: %v", err)
	}
	if n != 2 {
		t.Errorf("PruneOneTimeTokens = %d, want 2 (expired strictly before the cutoff)", n)
	}
	// Taken at a time they were still valid: the pruned ones are gone.
	early := t0.Add(-2 * time.Hour)
	f.takeToken("pruned long ago expired", longGone.Hash, longGone.Purpose, early, nil)
	f.takeToken("pruned just expired", justGone.Hash, justGone.Purpose, early, nil)
	f.takeToken("expiring at the cutoff", atCutoff.Hash, atCutoff.Purpose, early, &atCutoff)
	f.takeToken("live", live.Hash, live.Purpose, early, &live)
	if n, err := f.s.PruneOneTimeTokens(f.ctx, t0.Add(2*time.Hour)); err != nil || n != 0 {
		t.Errorf("PruneOneTimeTokens with nothing left = %d, %v; want 0", n, err)
	}
}
