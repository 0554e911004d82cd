package provision

import (
	"context"
)

// SharedStep is a step taken once for a group of hosts that serve the same
// app (a certificate is ordered once, whichever host the CA reaches).
type SharedStep interface {
	Name() string
	PlanShared(ctx context.Context, ts []*Target) (*Change, error)
}

// InitPlan is `myapp init` in three phases: per-host steps up to a site
// that answers HTTP-01, the shared certificate step, then per-host steps
// that need the certificate.
type InitPlan struct {
	Before []Step
	Cert   SharedStep
	After  []Step
}

// Init returns init's phases.
func Init() InitPlan {
	steps := InitSteps()
	for i, s := range steps {
		if _, ok := s.(certificate); ok {
			return InitPlan{Before: steps[:i], Cert: certificate{}, After: steps[i+1:]}
		}
	}
	panic("init has no certificate step")
}

// ApplyShared plans a shared step for ts and applies it once (unless dry
// run); the result holds for every host and is reported for each.
func ApplyShared(ctx context.Context, ts []*Target, s SharedStep, rep Reporter) (StepResult, error) {
	c, err := s.PlanShared(ctx, ts)
	if err == nil && c != nil && c.Skip == "" {
		if ts[0].DryRun {
			for _, t := range ts {
				rep.Plan(t.Host.Name(), s.Name(), c)
			}
		} else {
			err = c.Apply(ctx)
		}
	}
	var r StepResult
	switch {
	case err != nil:
		r = StepResult{Step: s.Name(), Status: Failed, Detail: err.Error()}
	case c == nil:
		r = StepResult{Step: s.Name(), Status: Unchanged}
	case c.Skip != "":
		r = StepResult{Step: s.Name(), Status: Skipped, Detail: c.Skip}
	default:
		r = StepResult{Step: s.Name(), Status: Changed, Detail: c.Detail}
	}
	for _, t := range ts {
		rep.Step(t.Host.Name(), r)
	}
	return r, err
}

// Add records r in res, as Apply does.
func (res *HostResult) Add(r StepResult, err error) {
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
		if res.Err == nil {
			res.Err = &StepError{Host: res.Host, Step: r.Step, Err: err}
			res.Error = res.Err.Error()
			res.OK = false
		}
	}
}

// Merge appends a later phase's result for the same host.
func (res *HostResult) Merge(o HostResult) {
	res.Steps = append(res.Steps, o.Steps...)
	res.Summary.Changed += o.Summary.Changed
	res.Summary.Unchanged += o.Summary.Unchanged
	res.Summary.Skipped += o.Summary.Skipped
	res.Summary.Failed += o.Summary.Failed
	if o.Err != nil && res.Err == nil {
		res.Err, res.Error = o.Err, o.Error
	}
	res.OK = res.Err == nil
}
