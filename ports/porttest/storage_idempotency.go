package porttest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

var storageIdempotencyCases = []storageCase{
	{name: "ClaimNew", run: storageIdemClaimNew},
	{name: "ClaimExisting", run: storageIdemClaimExisting},
	{name: "KeysPerUserAndExact", run: storageIdemKeysPerUser},
	{name: "InvalidKey", run: storageIdemInvalid},
	{name: "TakeOverExpired", run: storageIdemTakeOver},
	{name: "NoTakeOverWithOtherFingerprint", run: storageIdemNoTakeOverOtherFingerprint},
	{name: "NoTakeOverBeforeLeaseEnds", run: storageIdemNoTakeOverBeforeLease},
	{name: "NoTakeOverOfCommittedOrDone", run: storageIdemNoTakeOverFinished},
	{name: "CreatePostMarksCommitted", run: storageIdemCreatePost},
	{name: "CreateCommentMarksCommitted", run: storageIdemCreateComment},
	{name: "CreateMediaMarksCommitted", run: storageIdemCreateMedia},
	{name: "WriteWithLostClaim", run: storageIdemWriteLostClaim},
	{name: "WriteWithFinishedClaim", run: storageIdemWriteFinishedClaim},
	{name: "Complete", run: storageIdemComplete},
	{name: "CompleteDoesNotAlias", run: storageIdemCompleteNoAlias},
	{name: "CompleteNotHeld", run: storageIdemCompleteNotHeld},
	{name: "CompleteMissing", run: storageIdemCompleteMissing},
	{name: "Release", run: storageIdemRelease},
	{name: "ReleaseKeepsCommittedAndDone", run: storageIdemReleaseKeeps},
	{name: "Prune", run: storageIdemPrune},
	{name: "DeleteUser", run: storageIdemDeleteUser},
	{name: "ParallelClaims", run: storageIdemParallelClaims},
	{name: "ParallelTakeOvers", run: storageIdemParallelTakeOvers},
}

// storageNewIdem returns a claim of a new key of user, made now with a
// lease of a minute.
func storageNewIdem(user string) domain.IdempotencyRecord {
	now := storageNow()
	return domain.IdempotencyRecord{
		UserID: user, Key: "key-" + NewID(), Fingerprint: "fp-" + NewID(), Token: NewID(),
		CreatedAt: now, LeaseUntil: now.Add(time.Minute),
	}
}

// storageExpiredIdem is storageNewIdem made an hour ago, its lease over.
func storageExpiredIdem(user string) domain.IdempotencyRecord {
	r := storageNewIdem(user)
	r.CreatedAt = r.CreatedAt.Add(-time.Hour)
	r.LeaseUntil = r.CreatedAt.Add(time.Minute)
	return r
}

// storageIdemRetry is another request with r's key and fingerprint (a
// retry), made at at: a new token and a lease of a minute.
func storageIdemRetry(r domain.IdempotencyRecord, at time.Time) domain.IdempotencyRecord {
	r.Token, r.CreatedAt, r.LeaseUntil = NewID(), at, at.Add(time.Minute)
	return r
}

// storageRunning is the record a claim of r makes.
func storageRunning(r domain.IdempotencyRecord) domain.IdempotencyRecord {
	r.State, r.ResourceID, r.Response = domain.IdempotencyRunning, "", nil
	return r
}

// storageIdemCtx is f.ctx carrying the claim of r.
func (f *storageFix) idemCtx(r domain.IdempotencyRecord) context.Context {
	return ports.WithIdempotencyClaim(f.ctx, ports.IdempotencyClaim{UserID: r.UserID, Key: r.Key, Token: r.Token})
}

// claimIdem claims r, which must get the key, and returns the record.
func (f *storageFix) claimIdem(r domain.IdempotencyRecord) domain.IdempotencyRecord {
	f.t.Helper()
	got, ok, err := f.s.ClaimIdempotencyKey(f.ctx, r)
	if err != nil || !ok {
		f.t.Fatalf("ClaimIdempotencyKey(%q): %v, claimed %v; want claimed", r.Key, err, ok)
	}
	return got
}

// idem returns the record of (user, key), nil when there is none. The
// port has no read: it claims the key with a fingerprint no record has,
// which never takes one over, and releases what that inserted.
func (f *storageFix) idem(user, key string) *domain.IdempotencyRecord {
	f.t.Helper()
	now := storageNow()
	probe := domain.IdempotencyRecord{UserID: user, Key: key, Fingerprint: "porttest-probe", Token: NewID(), CreatedAt: now, LeaseUntil: now.Add(time.Minute)}
	got, inserted, err := f.s.ClaimIdempotencyKey(f.ctx, probe)
	if err != nil {
		f.t.Fatalf("ClaimIdempotencyKey(probe %q): %v", key, err)
	}
	if inserted {
		if err := f.s.ReleaseIdempotencyKey(f.ctx, user, key, probe.Token); err != nil {
			f.t.Fatalf("ReleaseIdempotencyKey(probe %q): %v", key, err)
		}
		return nil
	}
	return &got
}

// expectIdem fails unless the record of (want.UserID, want.Key) is want.
func (f *storageFix) expectIdem(what string, want domain.IdempotencyRecord) {
	f.t.Helper()
	got := f.idem(want.UserID, want.Key)
	if got == nil {
		f.t.Errorf("%s: no record of key %q, want %s", what, want.Key, storageIdemString(want))
		return
	}
	storageSameIdem(f.t, what, *got, want)
}

// expectNoIdem fails unless (user, key) has no record.
func (f *storageFix) expectNoIdem(what, user, key string) {
	f.t.Helper()
	if got := f.idem(user, key); got != nil {
		f.t.Errorf("%s: key %q has record %s, want none", what, key, storageIdemString(*got))
	}
}

// storageSameIdem fails unless got and want are the same record: times
// compared as instants, an empty header map or body equal to a missing
// one.
func storageSameIdem(t *testing.T, what string, got, want domain.IdempotencyRecord) {
	t.Helper()
	if storageIdemString(got) != storageIdemString(want) {
		t.Errorf("%s:\n got  %s\n want %s", what, storageIdemString(got), storageIdemString(want))
	}
}

func storageIdemString(r domain.IdempotencyRecord) string {
	resp := "no response"
	if r.Response != nil {
		keys := slices.Sorted(maps.Keys(r.Response.Header))
		var h []string
		for _, k := range keys {
			h = append(h, fmt.Sprintf("%q: %q", k, r.Response.Header[k]))
		}
		resp = fmt.Sprintf("response{%d {%s} %q}", r.Response.Status, strings.Join(h, ", "), r.Response.Body)
	}
	return fmt.Sprintf("{user %s key %q fingerprint %q token %s state %s resource %q created %s lease %s %s}",
		r.UserID, r.Key, r.Fingerprint, r.Token, r.State, r.ResourceID,
		r.CreatedAt.UTC().Format(time.RFC3339Nano), r.LeaseUntil.UTC().Format(time.RFC3339Nano), resp)
}

// storageClaimResult checks what a claim returned.
func storageClaimResult(t *testing.T, what string, got domain.IdempotencyRecord, claimed bool, err error, wantClaimed bool, want domain.IdempotencyRecord) {
	t.Helper()
	if err != nil {
		t.Errorf("%s: %v", what, err)
		return
	}
	if claimed != wantClaimed {
		t.Errorf("%s: claimed = %v, want %v", what, claimed, wantClaimed)
	}
	storageSameIdem(t, what+" record", got, want)
}

// storageIdemClaimNew: a new key is claimed as a running record, whatever
// state, resource and response the claim carries.
func storageIdemClaimNew(t *testing.T, f *storageFix) {
	r := storageNewIdem(NewID())
	in := r
	in.State, in.ResourceID = domain.IdempotencyDone, NewID()
	in.Response = &domain.StoredResponse{Status: 200, Body: []byte("stale")}
	got, ok, err := f.s.ClaimIdempotencyKey(f.ctx, in)
	storageClaimResult(t, "ClaimIdempotencyKey(new)", got, ok, err, true, storageRunning(r))
	f.expectIdem("record after the claim", storageRunning(r))
}

// storageIdemClaimExisting: a second claim of a held key gets the record,
// not the key, with the same or another fingerprint.
func storageIdemClaimExisting(t *testing.T, f *storageFix) {
	r := f.claimIdem(storageNewIdem(NewID()))
	again := storageIdemRetry(r, r.CreatedAt.Add(time.Second))
	got, ok, err := f.s.ClaimIdempotencyKey(f.ctx, again)
	storageClaimResult(t, "ClaimIdempotencyKey(same key, same fingerprint)", got, ok, err, false, r)
	other := storageIdemRetry(r, r.CreatedAt.Add(time.Second))
	other.Fingerprint = "another request"
	got, ok, err = f.s.ClaimIdempotencyKey(f.ctx, other)
	storageClaimResult(t, "ClaimIdempotencyKey(same key, other fingerprint)", got, ok, err, false, r)
	f.expectIdem("record after the refused claims", r)
}

// storageIdemKeysPerUser: keys are scoped to their user and compared
// exactly (case and spaces matter).
func storageIdemKeysPerUser(t *testing.T, f *storageFix) {
	u1, u2 := NewID(), NewID()
	r1 := f.claimIdem(storageNewIdem(u1))
	r2 := storageNewIdem(u2)
	r2.Key = r1.Key
	r2 = f.claimIdem(r2)
	f.expectIdem("first user's record", r1)
	f.expectIdem("second user's record", r2)

	upper := storageNewIdem(u1)
	upper.Key = "Key-" + NewID()
	upper = f.claimIdem(upper)
	for _, k := range []string{strings.ToLower(upper.Key), upper.Key + " ", " " + upper.Key} {
		r := storageNewIdem(u1)
		r.Key = k
		f.claimIdem(r) // another key: claimed
	}
	f.expectIdem("record of the mixed-case key", upper)
}

// storageIdemInvalid: keys domain.ValidateIdempotencyKey refuses and an
// empty user are Invalid; the longest key and visible ASCII with spaces
// are keys.
func storageIdemInvalid(t *testing.T, f *storageFix) {
	user := NewID()
	for _, key := range []string{"", strings.Repeat("k", domain.MaxIdempotencyKeyLen+1), "line\nbreak", "tab\there", "del\x7f", "clé", "nul\x00"} {
		r := storageNewIdem(user)
		r.Key = key
		_, _, err := f.s.ClaimIdempotencyKey(f.ctx, r)
		storageWantCode(t, err, domain.Invalid, fmt.Sprintf("ClaimIdempotencyKey(key %q)", key))
	}
	r := storageNewIdem("")
	_, _, err := f.s.ClaimIdempotencyKey(f.ctx, r)
	storageWantCode(t, err, domain.Invalid, "ClaimIdempotencyKey(empty user)")

	for _, key := range []string{strings.Repeat("k", domain.MaxIdempotencyKeyLen), `a "quoted" key with spaces ~!@#$%^&*()`, "x"} {
		r := storageNewIdem(user)
		r.Key = key
		got := f.claimIdem(r)
		storageSameIdem(t, fmt.Sprintf("claim of key %q", key), got, storageRunning(r))
		f.expectIdem(fmt.Sprintf("record of key %q", key), storageRunning(r))
	}
}

// storageIdemTakeOver: a retry with the same fingerprint takes over a
// running claim whose lease ended: its token and lease, the creation time
// kept. The new holder's lease then keeps further retries out.
func storageIdemTakeOver(t *testing.T, f *storageFix) {
	r := f.claimIdem(storageExpiredIdem(NewID()))
	retry := storageIdemRetry(r, storageNow())
	want := r
	want.Token, want.LeaseUntil = retry.Token, retry.LeaseUntil
	got, ok, err := f.s.ClaimIdempotencyKey(f.ctx, retry)
	storageClaimResult(t, "ClaimIdempotencyKey(expired claim)", got, ok, err, true, want)
	f.expectIdem("record after the takeover", want)

	late := storageIdemRetry(r, retry.CreatedAt.Add(time.Second))
	got, ok, err = f.s.ClaimIdempotencyKey(f.ctx, late)
	storageClaimResult(t, "ClaimIdempotencyKey(after the takeover)", got, ok, err, false, want)
}

// storageIdemNoTakeOverOtherFingerprint: an expired claim is only taken
// over by the same request.
// Fingerprints compare exactly: one that differs by a trailing space or
// case is another request.
func storageIdemNoTakeOverOtherFingerprint(t *testing.T, f *storageFix) {
	r := f.claimIdem(storageExpiredIdem(NewID()))
	for _, fp := range []string{"another request", r.Fingerprint + " ", strings.ToUpper(r.Fingerprint)} {
		other := storageIdemRetry(r, storageNow())
		other.Fingerprint = fp
		got, ok, err := f.s.ClaimIdempotencyKey(f.ctx, other)
		storageClaimResult(t, fmt.Sprintf("ClaimIdempotencyKey(expired, fingerprint %q)", fp), got, ok, err, false, r)
	}
	f.expectIdem("record after the refused claims", r)
}

// storageIdemNoTakeOverBeforeLease: until its lease is before the
// retry's creation, a claim holds (a lease ending at the very instant
// included).
func storageIdemNoTakeOverBeforeLease(t *testing.T, f *storageFix) {
	r := f.claimIdem(storageNewIdem(NewID()))
	for _, at := range []time.Time{r.CreatedAt.Add(time.Second), r.LeaseUntil} {
		got, ok, err := f.s.ClaimIdempotencyKey(f.ctx, storageIdemRetry(r, at))
		storageClaimResult(t, fmt.Sprintf("ClaimIdempotencyKey(%s before the lease ends)", r.LeaseUntil.Sub(at)), got, ok, err, false, r)
	}
	f.expectIdem("record after the refused claims", r)
}

// storageIdemNoTakeOverFinished: committed and done records are never
// taken over, however old.
func storageIdemNoTakeOverFinished(t *testing.T, f *storageFix) {
	a := f.profile()
	committed := f.claimIdem(storageExpiredIdem(a.ID))
	p, err := f.s.CreatePost(f.idemCtx(committed), storageNewPost(a.ID))
	if err != nil {
		t.Fatalf("CreatePost with a claim: %v", err)
	}
	committed.State, committed.ResourceID = domain.IdempotencyCommitted, p.ID
	got, ok, err := f.s.ClaimIdempotencyKey(f.ctx, storageIdemRetry(committed, storageNow()))
	storageClaimResult(t, "ClaimIdempotencyKey(expired, committed)", got, ok, err, false, committed)

	done := f.claimIdem(storageExpiredIdem(a.ID))
	resp := domain.StoredResponse{Status: 201, Header: map[string]string{"Location": "/v1/posts/x"}, Body: []byte(`{"id":"x"}`)}
	if err := f.s.CompleteIdempotencyKey(f.ctx, done.UserID, done.Key, done.Token, resp); err != nil {
		t.Fatalf("CompleteIdempotencyKey: %v", err)
	}
	done.State, done.Response = domain.IdempotencyDone, &resp
	got, ok, err = f.s.ClaimIdempotencyKey(f.ctx, storageIdemRetry(done, storageNow()))
	storageClaimResult(t, "ClaimIdempotencyKey(expired, done)", got, ok, err, false, done)
}

// storageIdemCreatePost: CreatePost with a claim marks its record
// committed with the post's id, and writes the post as without one.
func storageIdemCreatePost(t *testing.T, f *storageFix) {
	a := f.profile()
	m := f.media(a.ID, domain.PurposePost)
	r := f.claimIdem(storageNewIdem(a.ID))
	cur := f.cursor(a.ID)
	p, err := f.s.CreatePost(f.idemCtx(r), storageNewPost(a.ID, m.ID))
	if err != nil {
		t.Fatalf("CreatePost with a claim: %v", err)
	}
	want := r
	want.State, want.ResourceID = domain.IdempotencyCommitted, p.ID
	f.expectIdem("record after CreatePost", want)
	storageSame(t, "the post", f.getPost(p.ID), p)
	if got := f.getMedia(m.ID); got.PostID != p.ID {
		t.Errorf("media attached to %q, want %q", got.PostID, p.ID)
	}
	f.expectFeed(a.ID, cur, storageUpsert(domain.EntityPost, p.ID))
}

// storageIdemCreateComment: CreateComment with a claim marks its record
// committed with the comment's id.
func storageIdemCreateComment(t *testing.T, f *storageFix) {
	a, b := f.profile(), f.profile()
	p := f.post(a.ID)
	r := f.claimIdem(storageNewIdem(b.ID))
	c := storageNewComment(p.ID, b.ID)
	n := storageNewNotification(a.ID, c)
	if _, err := f.s.CreateComment(f.idemCtx(r), c, a.ID, n); err != nil {
		t.Fatalf("CreateComment with a claim: %v", err)
	}
	want := r
	want.State, want.ResourceID = domain.IdempotencyCommitted, c.ID
	f.expectIdem("record after CreateComment", want)
	if got, err := f.s.GetComment(f.ctx, c.ID); err != nil || got.ID != c.ID {
		t.Errorf("GetComment: %v, %v", got, err)
	}
	if got := f.getPost(p.ID); got.CommentCount != 1 {
		t.Errorf("CommentCount = %d, want 1", got.CommentCount)
	}
}

// storageIdemCreateMedia: CreateMedia with a claim marks its record
// committed with the item's id, with and without an admit function.
func storageIdemCreateMedia(t *testing.T, f *storageFix) {
	a := f.profile()
	admitted := 0
	for _, admit := range []func(int, time.Time) error{nil, func(int, time.Time) error { admitted++; return nil }} {
		r := f.claimIdem(storageNewIdem(a.ID))
		m, err := f.s.CreateMedia(f.idemCtx(r), storageNewMedia(a.ID, domain.PurposePost), admit)
		if err != nil {
			t.Fatalf("CreateMedia with a claim (admit %v): %v", admit != nil, err)
		}
		want := r
		want.State, want.ResourceID = domain.IdempotencyCommitted, m.ID
		f.expectIdem(fmt.Sprintf("record after CreateMedia (admit %v)", admit != nil), want)
		f.getMedia(m.ID)
	}
	if admitted == 0 {
		t.Error("CreateMedia with a claim did not call admit")
	}
}

// storageIdemWriteLostClaim: a write whose claim was taken over by a
// retry, released, or never existed returns Conflict and writes nothing
// (no entity, no count, no attachment, no feed change), and leaves the
// record as it was.
func storageIdemWriteLostClaim(t *testing.T, f *storageFix) {
	a, b := f.profile(), f.profile()
	p := f.post(a.ID)
	m := f.media(a.ID, domain.PurposePost)

	stale := f.claimIdem(storageExpiredIdem(a.ID))
	holder := storageIdemRetry(stale, storageNow())
	f.claimIdem(holder)
	holder = storageRunning(holder)
	holder.CreatedAt = stale.CreatedAt

	released := f.claimIdem(storageNewIdem(a.ID))
	if err := f.s.ReleaseIdempotencyKey(f.ctx, released.UserID, released.Key, released.Token); err != nil {
		t.Fatalf("ReleaseIdempotencyKey: %v", err)
	}
	never := storageNewIdem(a.ID)

	curA, curB := f.cursor(a.ID), f.cursor(b.ID)
	for _, tc := range []struct {
		name  string
		claim domain.IdempotencyRecord
	}{{"taken over", stale}, {"released", released}, {"never claimed", never}} {
		ctx := f.idemCtx(tc.claim)
		newPost := storageNewPost(a.ID, m.ID)
		_, err := f.s.CreatePost(ctx, newPost)
		storageWantCode(t, err, domain.Conflict, "CreatePost with a "+tc.name+" claim")
		_, err = f.s.GetPost(f.ctx, newPost.ID)
		storageWantCode(t, err, domain.NotFound, "GetPost after CreatePost with a "+tc.name+" claim")

		c := storageNewComment(p.ID, b.ID)
		n := storageNewNotification(a.ID, c)
		_, err = f.s.CreateComment(ctx, c, a.ID, n)
		storageWantCode(t, err, domain.Conflict, "CreateComment with a "+tc.name+" claim")
		_, err = f.s.GetComment(f.ctx, c.ID)
		storageWantCode(t, err, domain.NotFound, "GetComment after CreateComment with a "+tc.name+" claim")
		if notes, err := f.s.GetNotifications(f.ctx, a.ID, []string{n.ID}); err != nil || len(notes) != 0 {
			t.Errorf("notification after CreateComment with a %s claim: %v, %v; want none", tc.name, notes, err)
		}

		for _, admit := range []func(int, time.Time) error{nil, func(int, time.Time) error { return nil }} {
			nm := storageNewMedia(a.ID, domain.PurposePost)
			_, err = f.s.CreateMedia(ctx, nm, admit)
			storageWantCode(t, err, domain.Conflict, fmt.Sprintf("CreateMedia (admit %v) with a %s claim", admit != nil, tc.name))
			_, err = f.s.GetMedia(f.ctx, nm.ID)
			storageWantCode(t, err, domain.NotFound, fmt.Sprintf("GetMedia after CreateMedia (admit %v) with a %s claim", admit != nil, tc.name))
		}
	}
	if got := f.getPost(p.ID); got.CommentCount != 0 {
		t.Errorf("CommentCount = %d after refused comments, want 0", got.CommentCount)
	}
	if got := f.getMedia(m.ID); got.PostID != "" {
		t.Errorf("media attached to %q by a refused post, want none", got.PostID)
	}
	f.expectFeed(a.ID, curA)
	f.expectFeed(b.ID, curB)
	f.expectIdem("record of the taken-over claim", holder)
	f.expectNoIdem("released record", released.UserID, released.Key)
	f.expectNoIdem("never claimed record", never.UserID, never.Key)
}

// storageIdemWriteFinishedClaim: a claim whose record is committed (a
// write already used it) or done cannot write again: Conflict, nothing
// written, the record unchanged.
func storageIdemWriteFinishedClaim(t *testing.T, f *storageFix) {
	a := f.profile()
	p := f.post(a.ID)
	committed := f.claimIdem(storageNewIdem(a.ID))
	first, err := f.s.CreatePost(f.idemCtx(committed), storageNewPost(a.ID))
	if err != nil {
		t.Fatalf("CreatePost with a claim: %v", err)
	}
	committed.State, committed.ResourceID = domain.IdempotencyCommitted, first.ID

	done := f.claimIdem(storageNewIdem(a.ID))
	resp := domain.StoredResponse{Status: 201, Body: []byte("{}")}
	if err := f.s.CompleteIdempotencyKey(f.ctx, done.UserID, done.Key, done.Token, resp); err != nil {
		t.Fatalf("CompleteIdempotencyKey: %v", err)
	}
	done.State, done.Response = domain.IdempotencyDone, &resp

	cur := f.cursor(a.ID)
	for _, r := range []domain.IdempotencyRecord{committed, done} {
		ctx := f.idemCtx(r)
		np := storageNewPost(a.ID)
		_, err := f.s.CreatePost(ctx, np)
		storageWantCode(t, err, domain.Conflict, "CreatePost with a "+string(r.State)+" claim")
		_, err = f.s.GetPost(f.ctx, np.ID)
		storageWantCode(t, err, domain.NotFound, "GetPost after CreatePost with a "+string(r.State)+" claim")
		c := storageNewComment(p.ID, a.ID)
		_, err = f.s.CreateComment(ctx, c, a.ID, nil)
		storageWantCode(t, err, domain.Conflict, "CreateComment with a "+string(r.State)+" claim")
		_, err = f.s.GetComment(f.ctx, c.ID)
		storageWantCode(t, err, domain.NotFound, "GetComment after CreateComment with a "+string(r.State)+" claim")
		nm := storageNewMedia(a.ID, domain.PurposePost)
		_, err = f.s.CreateMedia(ctx, nm, nil)
		storageWantCode(t, err, domain.Conflict, "CreateMedia with a "+string(r.State)+" claim")
		_, err = f.s.GetMedia(f.ctx, nm.ID)
		storageWantCode(t, err, domain.NotFound, "GetMedia after CreateMedia with a "+string(r.State)+" claim")
		f.expectIdem("record after the refused writes", r)
	}
	if got := f.getPost(p.ID); got.CommentCount != 0 {
		t.Errorf("CommentCount = %d after refused comments, want 0", got.CommentCount)
	}
	f.expectFeed(a.ID, cur)
}

// storageIdemResponse is a response with the headers a replay needs and
// a body that is not text.
func storageIdemResponse() domain.StoredResponse {
	return domain.StoredResponse{
		Status: 201,
		Header: map[string]string{"Location": "/v1/posts/123", "ETag": `W/"1"`, "Content-Type": "application/json; charset=utf-8"},
		Body:   []byte("{\"body\":\"h\u00e9llo \U0001F600\"}\x00\xff\xfe\n"),
	}
}

// storageIdemComplete: Complete stores the response on a committed or a
// running record held with the token and makes it done; status, headers
// and body come back exactly, the resource id stays.
func storageIdemComplete(t *testing.T, f *storageFix) {
	a := f.profile()
	r := f.claimIdem(storageNewIdem(a.ID))
	p, err := f.s.CreatePost(f.idemCtx(r), storageNewPost(a.ID))
	if err != nil {
		t.Fatalf("CreatePost with a claim: %v", err)
	}
	resp := storageIdemResponse()
	if err := f.s.CompleteIdempotencyKey(f.ctx, r.UserID, r.Key, r.Token, resp); err != nil {
		t.Fatalf("CompleteIdempotencyKey(committed): %v", err)
	}
	want := r
	want.State, want.ResourceID, want.Response = domain.IdempotencyDone, p.ID, &resp
	f.expectIdem("record after Complete", want)

	running := f.claimIdem(storageNewIdem(a.ID))
	bare := domain.StoredResponse{Status: 204}
	if err := f.s.CompleteIdempotencyKey(f.ctx, running.UserID, running.Key, running.Token, bare); err != nil {
		t.Fatalf("CompleteIdempotencyKey(running): %v", err)
	}
	want = running
	want.State, want.Response = domain.IdempotencyDone, &bare
	f.expectIdem("record after Complete of a running claim, no headers, no body", want)
}

// storageIdemCompleteNoAlias: the store keeps its own copy of the
// response, and gives out copies.
func storageIdemCompleteNoAlias(t *testing.T, f *storageFix) {
	r := f.claimIdem(storageNewIdem(NewID()))
	resp := storageIdemResponse()
	if err := f.s.CompleteIdempotencyKey(f.ctx, r.UserID, r.Key, r.Token, resp); err != nil {
		t.Fatalf("CompleteIdempotencyKey: %v", err)
	}
	keep := storageIdemResponse()
	want := r
	want.State, want.Response = domain.IdempotencyDone, &keep
	resp.Header["Location"] = "/changed"
	resp.Header["X-Added"] = "1"
	resp.Body[0] = 'X'
	f.expectIdem("record after the caller changed its response", want)

	got := f.idem(r.UserID, r.Key)
	if got == nil || got.Response == nil {
		t.Fatalf("record after Complete: %v, want a response", got)
	}
	got.Response.Header["Location"] = "/changed"
	got.Response.Status = 500
	if len(got.Response.Body) > 0 {
		got.Response.Body[0] = 'X'
	}
	f.expectIdem("record after the caller changed what it read", want)
}

// storageIdemCompleteNotHeld: Complete with a token that does not hold
// the record (wrong, taken over, or completing a done record again) is
// Conflict and changes nothing.
func storageIdemCompleteNotHeld(t *testing.T, f *storageFix) {
	r := f.claimIdem(storageNewIdem(NewID()))
	err := f.s.CompleteIdempotencyKey(f.ctx, r.UserID, r.Key, NewID(), storageIdemResponse())
	storageWantCode(t, err, domain.Conflict, "CompleteIdempotencyKey(wrong token)")
	f.expectIdem("record after Complete with a wrong token", r)

	stale := f.claimIdem(storageExpiredIdem(r.UserID))
	holder := storageIdemRetry(stale, storageNow())
	f.claimIdem(holder)
	err = f.s.CompleteIdempotencyKey(f.ctx, stale.UserID, stale.Key, stale.Token, storageIdemResponse())
	storageWantCode(t, err, domain.Conflict, "CompleteIdempotencyKey(taken over)")
	holder.CreatedAt = stale.CreatedAt
	f.expectIdem("record after Complete with the token taken over", storageRunning(holder))

	first := domain.StoredResponse{Status: 201, Body: []byte("first")}
	if err := f.s.CompleteIdempotencyKey(f.ctx, r.UserID, r.Key, r.Token, first); err != nil {
		t.Fatalf("CompleteIdempotencyKey: %v", err)
	}
	err = f.s.CompleteIdempotencyKey(f.ctx, r.UserID, r.Key, r.Token, domain.StoredResponse{Status: 500, Body: []byte("second")})
	storageWantCode(t, err, domain.Conflict, "CompleteIdempotencyKey(done)")
	r.State, r.Response = domain.IdempotencyDone, &first
	f.expectIdem("record after a second Complete", r)
}

// storageIdemCompleteMissing: Complete of a key without a record is
// NotFound (another user's record does not count) and creates none.
func storageIdemCompleteMissing(t *testing.T, f *storageFix) {
	r := f.claimIdem(storageNewIdem(NewID()))
	other := NewID()
	err := f.s.CompleteIdempotencyKey(f.ctx, other, r.Key, r.Token, storageIdemResponse())
	storageWantCode(t, err, domain.NotFound, "CompleteIdempotencyKey(another user's key)")
	err = f.s.CompleteIdempotencyKey(f.ctx, r.UserID, "missing-"+NewID(), r.Token, storageIdemResponse())
	storageWantCode(t, err, domain.NotFound, "CompleteIdempotencyKey(unknown key)")
	f.expectNoIdem("record of the other user", other, r.Key)
	f.expectIdem("record after the misses", r)
}

// storageIdemRelease: Release deletes the running record held with the
// token, so the key can be claimed again; another token's record, and no
// record, are no error and change nothing.
func storageIdemRelease(t *testing.T, f *storageFix) {
	r := f.claimIdem(storageNewIdem(NewID()))
	if err := f.s.ReleaseIdempotencyKey(f.ctx, r.UserID, r.Key, NewID()); err != nil {
		t.Errorf("ReleaseIdempotencyKey(wrong token): %v", err)
	}
	f.expectIdem("record after Release with a wrong token", r)
	if err := f.s.ReleaseIdempotencyKey(f.ctx, r.UserID, r.Key, r.Token); err != nil {
		t.Fatalf("ReleaseIdempotencyKey: %v", err)
	}
	again := storageIdemRetry(r, storageNow())
	got, ok, err := f.s.ClaimIdempotencyKey(f.ctx, again)
	storageClaimResult(t, "ClaimIdempotencyKey after Release", got, ok, err, true, storageRunning(again))
	if err := f.s.ReleaseIdempotencyKey(f.ctx, r.UserID, "missing-"+NewID(), r.Token); err != nil {
		t.Errorf("ReleaseIdempotencyKey(unknown key): %v", err)
	}
}

// storageIdemReleaseKeeps: committed and done records are kept by
// Release, even with their token: their write happened.
func storageIdemReleaseKeeps(t *testing.T, f *storageFix) {
	a := f.profile()
	committed := f.claimIdem(storageNewIdem(a.ID))
	p, err := f.s.CreatePost(f.idemCtx(committed), storageNewPost(a.ID))
	if err != nil {
		t.Fatalf("CreatePost with a claim: %v", err)
	}
	committed.State, committed.ResourceID = domain.IdempotencyCommitted, p.ID
	done := f.claimIdem(storageNewIdem(a.ID))
	resp := storageIdemResponse()
	if err := f.s.CompleteIdempotencyKey(f.ctx, done.UserID, done.Key, done.Token, resp); err != nil {
		t.Fatalf("CompleteIdempotencyKey: %v", err)
	}
	done.State, done.Response = domain.IdempotencyDone, &resp
	for _, r := range []domain.IdempotencyRecord{committed, done} {
		if err := f.s.ReleaseIdempotencyKey(f.ctx, r.UserID, r.Key, r.Token); err != nil {
			t.Errorf("ReleaseIdempotencyKey(%s): %v", r.State, err)
		}
		f.expectIdem("record after Release of a "+string(r.State)+" claim", r)
	}
}

// storageIdemPrune: Prune deletes the records created before the bound,
// in any state, and keeps the others; it returns how many it deleted.
func storageIdemPrune(t *testing.T, f *storageFix) {
	a := f.profile()
	now := storageNow()
	at := func(ago time.Duration) domain.IdempotencyRecord {
		r := storageNewIdem(a.ID)
		r.CreatedAt = now.Add(-ago)
		r.LeaseUntil = r.CreatedAt.Add(time.Minute)
		return f.claimIdem(r)
	}
	old1, old2, kept := at(3*time.Hour), at(2*time.Hour), at(30*time.Minute)
	oldCommitted := at(26 * time.Hour)
	if _, err := f.s.CreatePost(f.idemCtx(oldCommitted), storageNewPost(a.ID)); err != nil {
		t.Fatalf("CreatePost with a claim: %v", err)
	}
	other := storageNewIdem(NewID())
	other.CreatedAt = now.Add(-5 * time.Hour)
	other = f.claimIdem(other)

	n, err := f.s.PruneIdempotencyKeys(f.ctx, now.Add(-time.Hour))
	if err != nil || n != 4 {
		t.Errorf("PruneIdempotencyKeys = %d, %v; want 4", n, err)
	}
	for _, r := range []domain.IdempotencyRecord{old1, old2, oldCommitted, other} {
		f.expectNoIdem("pruned record", r.UserID, r.Key)
	}
	f.expectIdem("record created after the bound", kept)
	if n, err := f.s.PruneIdempotencyKeys(f.ctx, now.Add(-time.Hour)); err != nil || n != 0 {
		t.Errorf("second PruneIdempotencyKeys = %d, %v; want 0", n, err)
	}
}

// storageIdemDeleteUser: deleting an account deletes its records and
// keeps everyone else's.
func storageIdemDeleteUser(t *testing.T, f *storageFix) {
	a, b := f.profile(), f.profile()
	running := f.claimIdem(storageNewIdem(a.ID))
	committed := f.claimIdem(storageNewIdem(a.ID))
	if _, err := f.s.CreatePost(f.idemCtx(committed), storageNewPost(a.ID)); err != nil {
		t.Fatalf("CreatePost with a claim: %v", err)
	}
	theirs := f.claimIdem(storageNewIdem(b.ID))
	if _, err := f.s.DeleteUser(f.ctx, a.ID); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	f.expectNoIdem("deleted user's running record", a.ID, running.Key)
	f.expectNoIdem("deleted user's committed record", a.ID, committed.Key)
	f.expectIdem("another user's record", theirs)
}

// storageIdemParallelClaims: of concurrent claims of a new key exactly
// one gets it, and the others get its record.
func storageIdemParallelClaims(t *testing.T, f *storageFix) {
	base := storageNewIdem(NewID())
	storageIdemRace(t, f, base, func(int) domain.IdempotencyRecord { return storageIdemRetry(base, base.CreatedAt) })
}

// storageIdemParallelTakeOvers: of concurrent retries of an expired
// claim exactly one takes it over.
func storageIdemParallelTakeOvers(t *testing.T, f *storageFix) {
	stale := f.claimIdem(storageExpiredIdem(NewID()))
	now := storageNow()
	storageIdemRace(t, f, stale, func(int) domain.IdempotencyRecord { return storageIdemRetry(stale, now) })
}

// storageIdemRace runs claims of one key at once and checks that exactly
// one wins and that the losers got the winner's record.
func storageIdemRace(t *testing.T, f *storageFix, base domain.IdempotencyRecord, claim func(i int) domain.IdempotencyRecord) {
	const claimers = 12
	claims := make([]domain.IdempotencyRecord, claimers)
	for i := range claimers {
		claims[i] = claim(i)
	}
	got := make([]domain.IdempotencyRecord, claimers)
	won := make([]bool, claimers)
	errs := make([]error, claimers)
	var start, wg sync.WaitGroup
	start.Add(1)
	for i := range claimers {
		wg.Go(func() {
			start.Wait()
			got[i], won[i], errs[i] = f.s.ClaimIdempotencyKey(f.ctx, claims[i])
		})
	}
	start.Done()
	wg.Wait()
	winner := -1
	for i := range claimers {
		if errs[i] != nil {
			t.Errorf("claimer %d: %v", i, errs[i])
			continue
		}
		if won[i] {
			if winner >= 0 {
				t.Errorf("claimers %d and %d both got the key", winner, i)
			}
			winner = i
		}
	}
	if winner < 0 {
		t.Fatal("no claimer got the key")
	}
	for i := range claimers {
		if errs[i] == nil && got[i].Token != claims[winner].Token {
			t.Errorf("claimer %d got a record held by %s, want the winner's %s", i, got[i].Token, claims[winner].Token)
		}
	}
	want := storageRunning(claims[winner])
	want.CreatedAt = base.CreatedAt
	f.expectIdem("record after the race", want)
}
