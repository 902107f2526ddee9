package httpapi

import (
	"cmp"
	"context"
	"net/http"
	"slices"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/core/posts"
	"github.com/cloudpost/cloudpost/core/profiles"
)

// caller returns the principal of an authenticated route.
func caller(c echo.Context) (domain.Principal, error) {
	p, ok := PrincipalFrom(c)
	if !ok {
		// Only reachable if a route forgot the auth middleware.
		return domain.Principal{}, domain.Errorf(domain.Internal, "route %s has no authentication", c.Path())
	}
	return p, nil
}

func noContent(c echo.Context, status int) error { return c.NoContent(status) }

// resolverFor returns a resolver for the caller of c (every route that
// embeds media is authenticated).
func resolverFor(c echo.Context) mediaResolver {
	p, _ := PrincipalFrom(c)
	return mediaResolver{viewer: p}
}

// --- operations ---

func (a *api) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, statusResponse{Status: "ok"})
}

// readyz runs every readiness check concurrently, each with a short timeout,
// and answers 200 when all pass, else 503. A failed check shows its
// client-safe message; the cause is logged.
func (a *api) readyz(c echo.Context) error {
	ctx := c.Request().Context()
	rid := responseRequestID(c) // read here: the checks run on other goroutines
	results := make([]string, len(a.Ready))
	var wg sync.WaitGroup
	for i, rc := range a.Ready {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, readyTimeout)
			defer cancel()
			if err := runCheck(cctx, rc.Check); err != nil {
				a.log.WarnContext(ctx, "readiness check failed", "check", rc.Name, "requestId", rid, "err", err)
				results[i] = "fail: " + domain.ErrorMessage(err)
				return
			}
			results[i] = "ok"
		})
	}
	wg.Wait()
	out := readyResponse{Status: "ok", Checks: make(map[string]string, len(a.Ready))}
	status := http.StatusOK
	for i, rc := range a.Ready {
		out.Checks[rc.Name] = results[i]
		if results[i] != "ok" {
			out.Status, status = "unavailable", http.StatusServiceUnavailable
		}
	}
	if status != http.StatusOK {
		c.Response().Header().Set(echo.HeaderRetryAfter, "5")
	}
	return c.JSON(status, out)
}

// runCheck runs one readiness check; a panic (it runs outside the request
// goroutine, where the recover middleware cannot catch it) is a failure.
func runCheck(ctx context.Context, check func(context.Context) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = domain.Errorf(domain.Internal, "readiness check panicked: %v", r)
		}
	}()
	return check(ctx)
}

func (a *api) jwks(c echo.Context) error {
	b, err := a.JWKS(c.Request().Context())
	if err != nil {
		return err
	}
	// Verifiers may cache the keys briefly.
	c.Response().Header().Set("Cache-Control", "public, max-age=300")
	return c.Blob(http.StatusOK, "application/json", b)
}

// devMail lists the local outbox of one address, newest first.
func (a *api) devMail(c echo.Context) error {
	to, err := domain.NormalizeEmail(c.QueryParam("to"))
	if err != nil {
		return domain.Errorf(domain.Invalid, "query parameter to must be an email address")
	}
	msgs := slices.Clone(a.DevMail.Mail(to))
	slices.SortStableFunc(msgs, func(x, y DevMessage) int { return y.SentAt.Compare(x.SentAt) })
	out := devMailResponse{Messages: make([]devMessageDTO, 0, len(msgs))}
	for _, m := range msgs {
		out.Messages = append(out.Messages, devMessageDTO{To: m.To, Subject: m.Subject, Code: m.Code, SentAt: formatTime(m.SentAt)})
	}
	return c.JSON(http.StatusOK, out)
}

// --- auth ---

func (a *api) signUp(c echo.Context) error {
	var req signUpRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	res, err := a.Accounts.SignUp(c.Request().Context(), req.Email, req.Password, req.DisplayName)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, signUpResponse{UserID: res.UserID, ConfirmationRequired: res.ConfirmationRequired})
}

func (a *api) confirm(c echo.Context) error {
	var req confirmRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if err := a.Accounts.Confirm(c.Request().Context(), req.Email, req.Code, c.RealIP()); err != nil {
		return err
	}
	return noContent(c, http.StatusNoContent)
}

func (a *api) signIn(c echo.Context) error {
	var req signInRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	t, err := a.Accounts.SignIn(c.Request().Context(), req.Email, req.Password, c.RealIP())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toTokens(t, true))
}

func (a *api) refresh(c echo.Context) error {
	var req refreshRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	t, err := a.Accounts.Refresh(c.Request().Context(), req.RefreshToken)
	if err != nil {
		return err
	}
	// A provider with refresh-token rotation returns a new one; the client
	// must get it or its session ends when the old one expires.
	return c.JSON(http.StatusOK, toTokens(t, true))
}

func (a *api) forgot(c echo.Context) error { return a.mailCode(c, a.Accounts.Forgot) }

func (a *api) resend(c echo.Context) error { return a.mailCode(c, a.Accounts.ResendConfirmation) }

// mailCode asks send to mail a code to the request's email and answers 202
// whether or not the account exists.
func (a *api) mailCode(c echo.Context, send func(ctx context.Context, email string) error) error {
	var req emailRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if err := send(c.Request().Context(), req.Email); err != nil {
		return err
	}
	return noContent(c, http.StatusAccepted)
}

func (a *api) reset(c echo.Context) error {
	var req resetRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if err := a.Accounts.Reset(c.Request().Context(), req.Email, req.Code, req.Password, c.RealIP()); err != nil {
		return err
	}
	return noContent(c, http.StatusNoContent)
}

// signOut ends every session of the caller; the body, optional, may name
// the refresh token of this session.
func (a *api) signOut(c echo.Context) error {
	p, err := caller(c)
	if err != nil {
		return err
	}
	var req signOutRequest
	if err := decodeOptionalJSON(c, &req); err != nil {
		return err
	}
	if err := a.Accounts.SignOut(c.Request().Context(), p, rawBearerToken(c), req.RefreshToken); err != nil {
		return err
	}
	return noContent(c, http.StatusNoContent)
}

// --- profiles ---

func (a *api) writeProfile(c echo.Context, status int, p domain.Profile) error {
	r := resolverFor(c)
	r.add(p.ImageID)
	if err := r.resolve(c.Request().Context(), a.Media); err != nil {
		return err
	}
	c.Response().Header().Set("ETag", etag(p.Version))
	return c.JSON(status, r.profile(p))
}

func (a *api) getMe(c echo.Context) error {
	p, err := caller(c)
	if err != nil {
		return err
	}
	prof, err := a.Profiles.Ensure(c.Request().Context(), p)
	if err != nil {
		return err
	}
	return a.writeProfile(c, http.StatusOK, prof)
}

func (a *api) patchMe(c echo.Context) error {
	p, err := caller(c)
	if err != nil {
		return err
	}
	version, err := ifMatch(c)
	if err != nil {
		return err
	}
	var req patchMeRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	u := profiles.Update{IfMatch: version}
	if u.DisplayName, err = req.DisplayName.ptr("displayName"); err != nil {
		return jsonError(err)
	}
	if u.Bio, err = req.Bio.ptr("bio"); err != nil {
		return jsonError(err)
	}
	if req.ImageID.Set {
		img := req.ImageID.Value // null: "" removes the avatar
		u.ImageID = &img
	}
	prof, err := a.Profiles.Update(c.Request().Context(), p, u)
	if err != nil {
		return err
	}
	return a.writeProfile(c, http.StatusOK, prof)
}

func (a *api) deleteMe(c echo.Context) error {
	p, err := caller(c)
	if err != nil {
		return err
	}
	if err := a.Accounts.DeleteAccount(c.Request().Context(), p); err != nil {
		return err
	}
	return noContent(c, http.StatusNoContent)
}

func (a *api) getUser(c echo.Context) error {
	id, err := pathID(c, "user")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	prof, err := a.Profiles.Get(ctx, id)
	if err != nil {
		return err
	}
	r := resolverFor(c)
	r.add(prof.ImageID)
	if err := r.resolve(ctx, a.Media); err != nil {
		return err
	}
	c.Response().Header().Set("ETag", etag(prof.Version))
	return c.JSON(http.StatusOK, r.publicProfile(prof))
}

// --- media ---

func (a *api) createUpload(c echo.Context) error {
	p, err := caller(c)
	if err != nil {
		return err
	}
	var req uploadRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	up, err := a.Media.CreateUpload(c.Request().Context(), p, domain.MediaPurpose(req.Purpose), req.ContentType, req.Size)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/v1/media/"+up.Media.ID)
	return c.JSON(http.StatusCreated, toUpload(up))
}

func (a *api) getMedia(c echo.Context) error {
	return a.answerMedia(c, http.StatusOK, a.Media.Get)
}

// completeMedia accepts the client's "upload finished" signal (idempotent)
// and answers with the item's current state.
func (a *api) completeMedia(c echo.Context) error {
	return a.answerMedia(c, http.StatusAccepted, a.Media.Complete)
}

// answerMedia runs act on the caller's media item {id} and answers with
// the item's view.
func (a *api) answerMedia(c echo.Context, status int, act func(context.Context, domain.Principal, string) (domain.Media, error)) error {
	p, id, err := callerAndID(c, "media")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	m, err := act(ctx, p, id)
	if err != nil {
		return err
	}
	v, err := a.Media.View(ctx, p, m)
	if err != nil {
		return err
	}
	return c.JSON(status, toMedia(v))
}

// --- posts ---

func (a *api) writePost(c echo.Context, status int, p domain.Post) error {
	r := resolverFor(c)
	r.add(p.MediaIDs...)
	if err := r.resolve(c.Request().Context(), a.Media); err != nil {
		return err
	}
	c.Response().Header().Set("ETag", etag(p.Version))
	return c.JSON(status, r.post(p))
}

func (a *api) createPost(c echo.Context) error {
	p, err := caller(c)
	if err != nil {
		return err
	}
	var req createPostRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	post, err := a.Posts.Create(c.Request().Context(), p, req.Body, req.MediaIDs)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/v1/posts/"+post.ID)
	return a.writePost(c, http.StatusCreated, post)
}

func (a *api) getPost(c echo.Context) error {
	id, err := pathID(c, "post")
	if err != nil {
		return err
	}
	r := resolverFor(c)
	post, views, err := a.Posts.GetWithMedia(c.Request().Context(), r.viewer, id)
	if err != nil {
		return err
	}
	r.views = views
	c.Response().Header().Set("ETag", etag(post.Version))
	return c.JSON(http.StatusOK, r.post(post))
}

func (a *api) patchPost(c echo.Context) error {
	p, id, err := callerAndID(c, "post")
	if err != nil {
		return err
	}
	version, err := ifMatch(c)
	if err != nil {
		return err
	}
	var req patchPostRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	u := posts.Update{IfMatch: version}
	if u.Body, err = req.Body.ptr("body"); err != nil {
		return jsonError(err)
	}
	if u.MediaIDs, err = req.MediaIDs.ptr("mediaIds"); err != nil {
		return jsonError(err)
	}
	post, err := a.Posts.Update(c.Request().Context(), p, id, u)
	if err != nil {
		return err
	}
	return a.writePost(c, http.StatusOK, post)
}

func (a *api) deletePost(c echo.Context) error { return deleteAs(c, "post", a.Posts.Delete) }

// deleteAs deletes {id} with del on the caller's behalf and answers 204.
func deleteAs(c echo.Context, what string, del func(context.Context, domain.Principal, string) error) error {
	p, id, err := callerAndID(c, what)
	if err != nil {
		return err
	}
	if err := del(c.Request().Context(), p, id); err != nil {
		return err
	}
	return noContent(c, http.StatusNoContent)
}

func (a *api) listPosts(c echo.Context) error {
	limit, err := queryLimit(c)
	if err != nil {
		return err
	}
	author := c.QueryParam("author")
	ctx := c.Request().Context()
	pg, err := a.Posts.List(ctx, author, limit, c.QueryParam("cursor"))
	if err != nil {
		return err
	}
	r := resolverFor(c)
	for _, p := range pg.Items {
		r.add(p.MediaIDs...)
	}
	if err := r.resolve(ctx, a.Media); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newPage(r.posts(pg.Items), pg.NextCursor))
}

// --- comments ---

func (a *api) createComment(c echo.Context) error {
	p, postID, err := callerAndID(c, "post")
	if err != nil {
		return err
	}
	var req createCommentRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	cm, err := a.Comments.Create(c.Request().Context(), p, postID, req.Body)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/v1/comments/"+cm.ID)
	return c.JSON(http.StatusCreated, toComment(cm))
}

func (a *api) listComments(c echo.Context) error {
	postID, err := pathID(c, "post")
	if err != nil {
		return err
	}
	limit, err := queryLimit(c)
	if err != nil {
		return err
	}
	pg, err := a.Comments.List(c.Request().Context(), postID, limit, c.QueryParam("cursor"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newPage(toComments(pg.Items), pg.NextCursor))
}

func (a *api) deleteComment(c echo.Context) error { return deleteAs(c, "comment", a.Comments.Delete) }

// --- notifications ---

func (a *api) listNotifications(c echo.Context) error {
	p, err := caller(c)
	if err != nil {
		return err
	}
	limit, err := queryLimit(c)
	if err != nil {
		return err
	}
	pg, err := a.Notifications.List(c.Request().Context(), p, limit, c.QueryParam("cursor"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newPage(toNotifications(pg.Items), pg.NextCursor))
}

func (a *api) markNotificationsRead(c echo.Context) error {
	p, err := caller(c)
	if err != nil {
		return err
	}
	var req markReadRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if err := a.Notifications.MarkRead(c.Request().Context(), p, req.IDs, req.All); err != nil {
		return err
	}
	return noContent(c, http.StatusNoContent)
}

// --- sync ---

func (a *api) sync(c echo.Context) error {
	p, err := caller(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	res, err := a.Feed.Sync(ctx, p, c.QueryParam("cursor"))
	if err != nil {
		return err
	}
	r := resolverFor(c)
	if res.Profile != nil {
		r.add(res.Profile.ImageID)
	}
	for _, post := range res.Posts {
		r.add(post.MediaIDs...)
	}
	if err := r.resolve(ctx, a.Media); err != nil {
		return err
	}
	// Stable order for clients and tests: ids are time ordered.
	slices.SortFunc(res.Posts, func(x, y domain.Post) int { return cmp.Compare(x.ID, y.ID) })
	slices.SortFunc(res.Comments, func(x, y domain.Comment) int { return cmp.Compare(x.ID, y.ID) })
	slices.SortFunc(res.Notifications, func(x, y domain.Notification) int { return cmp.Compare(x.ID, y.ID) })
	out := syncResponse{
		Full: res.Full, Posts: r.posts(res.Posts), Comments: toComments(res.Comments),
		Notifications: toNotifications(res.Notifications), Deleted: toTombstones(res.Deleted),
		Cursor: res.Cursor, HasMore: res.HasMore,
	}
	if res.Profile != nil {
		prof := r.profile(*res.Profile)
		out.Profile = &prof
	}
	return c.JSON(http.StatusOK, out)
}
