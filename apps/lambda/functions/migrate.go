package functions

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"

	"github.com/cloudpost/cloudpost/adapters/mysqlstore"
	"github.com/cloudpost/cloudpost/apps/config"
)

// MigrateHandler runs the MySQL schema migrations from inside the VPC (the
// `migrate` handler), so a deployment can migrate an RDS/Aurora database
// that is not reachable from outside:
//
//	sam remote invoke MigrateFunction --stack-name cloudpost --event '{"command":"up"}'
type MigrateHandler struct {
	cfg mysqlstore.Config
	log *slog.Logger
}

// MigrateRequest is the migrate handler's event. Command is up (the
// default), status or down (roll back the latest migration).
type MigrateRequest struct {
	Command string `json:"command"`
}

// MigrateResponse is what the migrate handler returns: the command and
// what it did, one line per migration.
type MigrateResponse struct {
	Command string `json:"command"`
	Output  string `json:"output"`
}

// NewMigrateHandler returns the migrate handler for the CLOUDPOST_MYSQL_*
// settings of cfg (whatever CLOUDPOST_STORAGE says: the migrations always
// target MySQL).
func NewMigrateHandler(cfg config.Config, log *slog.Logger) *MigrateHandler {
	return &MigrateHandler{cfg: cfg.MySQL, log: log}
}

// Invoke implements lambda.Handler: it opens the writer pool, runs the
// command and closes the pool. Returns an error naming the variable for a
// bad configuration, and the migration's error (which names the failed
// migration).
func (h *MigrateHandler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	req := MigrateRequest{Command: mysqlstore.MigrateUp}
	if p := strings.TrimSpace(string(payload)); p != "" && p != "null" && p != "{}" {
		if err := json.Unmarshal(payload, &req); err != nil {
			return nil, fmt.Errorf("migrate: the event must be {\"command\":\"up|status|down\"}: %w", err)
		}
		if req.Command == "" {
			req.Command = mysqlstore.MigrateUp
		}
	}
	if err := h.cfg.Validate(); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	db, err := mysqlstore.OpenDB(h.cfg, h.cfg.DSN, true)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	defer db.Close()
	var out strings.Builder
	err = mysqlstore.Migrate(ctx, db, req.Command, &out)
	h.log.InfoContext(ctx, "migrate", "command", req.Command, "output", out.String(), "err", err)
	if err != nil {
		return nil, err
	}
	return json.Marshal(MigrateResponse{Command: req.Command, Output: out.String()})
}
