package cli

import (
	"time"

	"github.com/continuums/attest/internal/finding"
	"github.com/continuums/attest/internal/metrics"
	"github.com/continuums/attest/internal/policy"
	"github.com/continuums/attest/internal/project"
)

// writeMetricsFile counts a CI run with the same series `attest serve`
// exports, so a dashboard shows both.
func writeMetricsFile(path string, p *project.Project, res *finding.Result) error {
	m := metrics.New()
	names := metrics.PolicyNames(p.Engine.Policies(), func(p *policy.Policy) string { return p.Name })
	m.RecordResult(names, res)
	m.BundleLoaded(time.Now(), "local", "", len(names))
	return m.WriteFile(path)
}
