package remediate

import (
	"strings"
	"testing"
)

// TestParseCron: schedules the CronJob controller accepts parse, the ones
// it rejects do not (with the field named), and schedules on days no month
// has never fire.
func TestParseCron(t *testing.T) {
	for _, tc := range []struct {
		spec  string
		err   string // substring; "" = valid
		fires bool
	}{
		{"*/15 * * * *", "", true},
		{"0 3 * * mon-fri", "", true},
		{"30 2 1,15 * *", "", true},
		{"0 0 29 2 *", "", true},    // leap years
		{"0 0 31 4,6 *", "", false}, // April and June have 30 days
		{"0 3 30 2 *", "", false},
		{"0 3 30 2 1", "", true},   // both day fields restricted: Mondays in February fire
		{"0 0 31 */2 *", "", true}, // January, March, ... have a 31st
		{"@daily", "", true},
		{"@every 90m", "", true},
		{"5/20 * * * ?", "", true},
		{"0 0 1 JAN *", "", true},
		{"0 25 * * *", "hour field \"25\"", false},
		{"0 0 * * 7", "day of week field", false},
		{"0 0 * *", "4 fields, want 5", false},
		{"@fortnightly", "unknown macro", false},
		{"TZ=Europe/Paris 0 3 * * *", "spec.timeZone", false},
		{"*/0 * * * *", "bad step", false},
		{"0 0 5-1 * *", "outside", false},
		{"0 0 x * *", "not a number", false},
	} {
		s, err := parseCron(tc.spec)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("parseCron(%q): %v", tc.spec, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("parseCron(%q) error %v, want %q", tc.spec, err, tc.err)
		case err == nil && s.fires() != tc.fires:
			t.Errorf("parseCron(%q).fires() = %v, want %v", tc.spec, s.fires(), tc.fires)
		}
	}
}
