package provision

import (
	"context"
	"strings"

	"github.com/myapp/myapp/provision/host"
)

// StepResult is one line of the report.
type StepResult struct {
	Step   string `json:"step"`
	Status Status `json:"status"`
	Detail string `json:"detail,omitempty"`
}

// Summary counts step results.
type Summary struct {
	Changed   int `json:"changed"`
	Unchanged int `json:"unchanged"`
	Skipped   int `json:"skipped"`
	Failed    int `json:"failed"`
}

// HostResult is the outcome for one host.
type HostResult struct {
	Host    string       `json:"host"`
	OK      bool         `json:"ok"`
	Error   string       `json:"error"`
	Steps   []StepResult `json:"steps"`
	Summary Summary      `json:"summary"`
	Err     error        `json:"-"`
}

// StepError names the host and step of a failure.
type StepError struct {
	Host, Step string
	Err        error
}

func (e *StepError) Error() string {
	prefix := e.Host + ": " + e.Step + ": "
	if msg := e.Err.Error(); strings.HasPrefix(msg, prefix) {
		return msg // the error names its host and step already (host.Dial's do)
	}
	return prefix + e.Err.Error()
}
func (e *StepError) Unwrap() error { return e.Err }

// Reporter receives progress. Implementations must be safe for concurrent
// use: hosts run in parallel.
type Reporter interface {
	Step(host string, r StepResult)
	// Plan is called in dry-run mode with a step's planned change.
	Plan(host, step string, c *Change)
}

// Apply runs steps on t in order: plan each, then (unless t.DryRun) apply it.
// It stops at the first failure; later steps are not attempted.
func Apply(ctx context.Context, t *Target, steps []Step, rep Reporter) HostResult {
	res := HostResult{Host: t.Host.Name()}
	record := func(r StepResult) {
		res.Steps = append(res.Steps, r)
		switch r.Status {
		case Changed:
			res.Summary.Changed++
		case Unchanged:
			res.Summary.Unchanged++
		case Skipped:
			res.Summary.Skipped++
		case Failed:
			res.Summary.Failed++
		}
		rep.Step(res.Host, r)
	}
	for _, s := range steps {
		if err := ctx.Err(); err != nil {
			res.Err = err
			break
		}
		c, err := s.Plan(ctx, t)
		if err == nil && c != nil && c.Skip == "" {
			if t.DryRun {
				rep.Plan(res.Host, s.Name(), c)
				t.remember(c)
			} else {
				err = applyChange(ctx, t.Host, c)
			}
		}
		switch {
		case err != nil:
			record(StepResult{Step: s.Name(), Status: Failed, Detail: err.Error()})
			res.Err = &StepError{Host: res.Host, Step: s.Name(), Err: err}
		case c == nil:
			record(StepResult{Step: s.Name(), Status: Unchanged})
		case c.Skip != "":
			record(StepResult{Step: s.Name(), Status: Skipped, Detail: c.Skip})
		default:
			record(StepResult{Step: s.Name(), Status: Changed, Detail: c.Detail})
		}
		if err != nil {
			break
		}
	}
	res.OK = res.Err == nil
	if res.Err != nil {
		res.Error = res.Err.Error()
	}
	return res
}

// discard is a Reporter that drops everything.
type discard struct{}

func (discard) Step(string, StepResult)      {}
func (discard) Plan(string, string, *Change) {}

// Discard is a Reporter for callers that only want the HostResult.
var Discard Reporter = discard{}

// remember records a dry-run change's files as if written.
func (t *Target) remember(c *Change) {
	if t.planned == nil {
		t.planned = map[string]host.FileSpec{}
	}
	for _, f := range c.Files {
		t.planned[f.Path] = f.FileSpec
	}
}
