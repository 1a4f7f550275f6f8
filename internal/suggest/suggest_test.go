package suggest

import "testing"

func TestClosest(t *testing.T) {
	keys := []string{"imagePullPolicy", "image", "name", "reason", "expires_at", "approved_by"}
	cases := map[string]string{
		"imagePullPolcy": "imagePullPolicy",
		"IMAGE":          "image",
		"nam":            "name",
		"reasn":          "reason",
		"expires":        "expires_at",
		"approvedby":     "approved_by",
		"zzz":            "",
		"":               "",
	}
	for in, want := range cases {
		if got := Closest(in, keys); got != want {
			t.Errorf("Closest(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"a", "", 1}, {"kitten", "sitting", 3}, {"same", "same", 0}} {
		if got := Distance(c.a, c.b); got != c.d {
			t.Errorf("Distance(%q, %q) = %d, want %d", c.a, c.b, got, c.d)
		}
	}
}
