// Package e2e holds myapp's end-to-end tests: they build the real CLI, boot a
// fresh Debian 12 host with systemd (internal/testenv), start Pebble and a
// stub API backend, run `myapp init` over real SSH and check the result from
// outside, the way a user would.
//
// They need root, debootstrap and systemd-nspawn; without them they skip,
// except under CI=true, where they fail. MYAPP_SKIP_E2E=1 or -short skips
// them on a developer machine.
package e2e
