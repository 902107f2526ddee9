package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/cloudpost/cloudpost/adapters/mysqlstore"
	"github.com/cloudpost/cloudpost/adapters/mysqlstore/mysqltest/scratch"
	"github.com/cloudpost/cloudpost/adapters/system"
	"github.com/cloudpost/cloudpost/core/domain"
)

// runMySQL measures issue 3's target: GET /v1/posts/{id} through the whole
// HTTP stack of the server app on the MySQL store reaches at least 40% of
// a bare database/sql primary-key select loop's operations per second, at
// equal concurrency (conns select goroutines; conns keep-alive HTTP
// connections and conns pooled database connections for the app).
//
// The app runs in this process exactly as `cloudpost serve` wires it
// (CLOUDPOST_STORAGE=mysql, memory blobs, local auth, access log on), on
// a scratch database created on serverDSN and dropped at the end. The
// HTTP load comes from wrk (Debian package wrk), a separate C process:
// the load generator is not part of the stack measured, and Go's
// net/http client, run beside the app, costs about as much CPU per
// request as the server itself on a 2-core machine. That client's figure
// is printed too (go-client). Targets run in interleaved rounds with a
// rotating order; medians are reported.
func runMySQL(serverDSN string, rounds int, d time.Duration, conns int) error {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		return errors.New("wrk not found: install it (apt-get install wrk)")
	}
	dsn, drop, err := scratchDatabase(serverDSN)
	if err != nil {
		return err
	}
	defer drop()
	pool := strconv.Itoa(conns)
	env, err := Start("CLOUDPOST_STORAGE=mysql", "CLOUDPOST_MYSQL_DSN="+dsn,
		"CLOUDPOST_MYSQL_MAX_OPEN_CONNS="+pool, "CLOUDPOST_MYSQL_MAX_IDLE_CONNS="+pool)
	if err != nil {
		return err
	}
	defer env.Stop()

	c := mysqlstore.DefaultConfig()
	c.MaxOpenConns, c.MaxIdleConns = conns, conns
	db, err := mysqlstore.OpenDB(c, dsn, true)
	if err != nil {
		return err
	}
	defer db.Close()
	mediaPost, err := postWithMedia(env, db, 2)
	if err != nil {
		return err
	}

	getURL := env.BaseURL + "/v1/posts/"
	auth := "Authorization: Bearer " + env.Token
	type target struct {
		name    string
		measure func() (float64, error)
	}
	targets := []target{
		{"bare-select", func() (float64, error) { return selectLoop(db, env.PostID, conns, d) }},
		{"wrk-get-post", func() (float64, error) { return runWrk(wrk, getURL+env.PostID, auth, conns, d) }},
		{"wrk-get-post-2-media", func() (float64, error) { return runWrk(wrk, getURL+mediaPost, auth, conns, d) }},
		{"go-client-get-post", func() (float64, error) {
			return Measure(NewClient(conns), Target{Name: "get-post", WantStatus: 200, New: func() *http.Request {
				r, _ := http.NewRequest("GET", getURL+env.PostID, nil)
				r.Header.Set("Authorization", "Bearer "+env.Token)
				return r
			}}, conns, d)
		}},
	}
	fmt.Printf("GOMAXPROCS=%d NumCPU=%d conns=%d duration=%s rounds=%d (app and select loop in this process, wrk -t1 beside it, MySQL on %s)\n",
		runtime.GOMAXPROCS(0), runtime.NumCPU(), conns, d, rounds, redactDSN(serverDSN))
	results := map[string][]float64{}
	for r := range rounds {
		for i := range targets {
			t := targets[(i+r)%len(targets)]
			ops, err := t.measure()
			if err != nil {
				return fmt.Errorf("%s: %w", t.name, err)
			}
			results[t.name] = append(results[t.name], ops)
			fmt.Printf("round %d  %-22s %9.0f ops/s\n", r+1, t.name, ops)
		}
	}
	med := func(xs []float64) float64 { s := slices.Clone(xs); slices.Sort(s); return s[len(s)/2] }
	bare := med(results["bare-select"])
	fmt.Printf("\nmedian ops/s: bare select %.0f\n", bare)
	for _, t := range targets[1:] {
		fmt.Printf("  %-22s %9.0f  %5.1f%% of the bare select loop (target >= 40%%)\n", t.name, med(results[t.name]), 100*med(results[t.name])/bare)
	}
	return nil
}

// scratchDatabase creates a migrated database on the server and returns
// its DSN and a function that drops it.
func scratchDatabase(serverDSN string) (string, func(), error) {
	mc, err := mysql.ParseDSN(serverDSN)
	if err != nil {
		return "", nil, fmt.Errorf("-mysql: %w", err)
	}
	mc.DBName = ""
	admin, err := sql.Open("mysql", mc.FormatDSN())
	if err != nil {
		return "", nil, err
	}
	ctx := context.Background()
	dsn, dropDB, err := scratch.Create(ctx, admin, mc.FormatDSN())
	if err != nil {
		admin.Close()
		return "", nil, err
	}
	drop := func() {
		_ = dropDB(context.Background())
		admin.Close()
	}
	db, err := mysqlstore.OpenDB(mysqlstore.DefaultConfig(), dsn, true)
	if err == nil {
		_, err = mysqlstore.MigrateUpIfPending(ctx, db)
		db.Close()
	}
	if err != nil {
		drop()
		return "", nil, fmt.Errorf("migrate: %w", err)
	}
	return dsn, drop, nil
}

// postWithMedia creates n processed images of the signed-in user straight
// in the store (the upload pipeline is not what is measured) and a post
// showing them through the API; it returns the post's id.
func postWithMedia(env *Env, db *sql.DB, n int) (string, error) {
	store := mysqlstore.NewFromDB(db, nil, mysqlstore.Options{})
	var ids []string
	for range n {
		now := time.Now().UTC()
		m, err := store.CreateMedia(context.Background(), domain.Media{
			ID: system.IDs{}.NewID(), OwnerID: env.UserID, Purpose: domain.PurposePost, ContentType: "image/jpeg",
			Size: 1000, Status: domain.MediaReady, Variants: domain.VariantNames, CreatedAt: now, UpdatedAt: now,
		}, nil)
		if err != nil {
			return "", err
		}
		ids = append(ids, m.ID)
	}
	body, _ := json.Marshal(map[string]any{"body": "a post with images", "mediaIds": ids})
	req, _ := http.NewRequest("POST", env.BaseURL+"/v1/posts", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+env.Token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var p struct{ ID string }
	if err := json.NewDecoder(res.Body).Decode(&p); err != nil || res.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("POST /v1/posts with media: status %d %v", res.StatusCode, err)
	}
	return p.ID, nil
}

// selectLoop runs conns goroutines selecting the post row by primary key
// for d and returns the rate of completed selects.
func selectLoop(db *sql.DB, id string, conns int, d time.Duration) (float64, error) {
	ctx := context.Background()
	return rate(conns, d, func() error {
		var pid, author, body, mediaIDs string
		var count, version int64
		var created, updated sql.NullTime
		return db.QueryRowContext(ctx, "SELECT id, author_id, body, media_ids, comment_count, created_at, updated_at, version FROM posts WHERE id = ?", id).
			Scan(&pid, &author, &body, &mediaIDs, &count, &created, &updated, &version)
	})
}

var (
	wrkRate   = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkErrors = regexp.MustCompile(`(Non-2xx or 3xx responses|Socket errors):[^\n]*`)
)

// runWrk loads url with wrk (one thread, conns connections) for d and
// returns its requests per second; any non-2xx answer or socket error is
// an error.
func runWrk(wrk, url, header string, conns int, d time.Duration) (float64, error) {
	res, err := wrkStats(wrk, url, header, 1, conns, d)
	return res.rps, err
}

// redactDSN drops the password from a DSN for printing.
func redactDSN(dsn string) string {
	mc, err := mysql.ParseDSN(dsn)
	if err != nil {
		return "?"
	}
	if mc.Passwd != "" {
		mc.Passwd = "***"
	}
	return mc.Addr
}
