package testenv

import (
	"os"
	"testing"
)

// Require skips t when this machine cannot run the environment (not root, no
// systemd-nspawn or debootstrap, -short, or MYAPP_SKIP_E2E=1), but fails it
// under CI=true: in CI a missing prerequisite is a broken setup, not a reason
// to pass quietly.
func Require(t testing.TB) {
	t.Helper()
	ci := os.Getenv("CI") == "true"
	reason := ""
	switch {
	case Prereqs() != nil:
		reason = Prereqs().Error()
	case ci:
		return
	case testing.Short():
		reason = "skipped in -short mode (boots a container)"
	case os.Getenv("MYAPP_SKIP_E2E") == "1":
		reason = "MYAPP_SKIP_E2E=1"
	}
	if reason == "" {
		return
	}
	if ci {
		t.Fatalf("CI=true and the end-to-end environment cannot run: %s", reason)
	}
	t.Skip(reason)
}
