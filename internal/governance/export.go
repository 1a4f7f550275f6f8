package governance

import (
	"bytes"
	"fmt"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/continuums/attest/internal/store"
)

// fileEntry is one entry of .attest/exemptions.yaml (spec section 6),
// in the order the spec writes the keys.
type fileEntry struct {
	ID                string `yaml:"id"`
	PolicyName        string `yaml:"policy_name"`
	Rule              string `yaml:"rule,omitempty"`
	ResourceKind      string `yaml:"resource_kind"`
	ResourceName      string `yaml:"resource_name"`
	ResourceNamespace string `yaml:"resource_namespace,omitempty"`
	Reason            string `yaml:"reason"`
	ExpiresAt         string `yaml:"expires_at"`
	ApprovedBy        string `yaml:"approved_by"`
	Emergency         bool   `yaml:"emergency,omitempty"`
}

// Export writes the approved exemptions of list that are still in force at
// the service's clock as an exemptions file (spec section 6), for teams
// that keep exemptions in Git. exemption.LoadFile reads it back.
func (s *Service) Export(list []store.Exemption) ([]byte, error) {
	now := s.clock()
	entries := []fileEntry{}
	for _, e := range list {
		if e.Status != store.StatusApproved || !now.Before(e.ExpiresAt) {
			continue
		}
		x := ToExemption(e)
		entries = append(entries, fileEntry{
			ID: e.ID, PolicyName: e.Policy, Rule: e.Rule,
			ResourceKind: e.Kind, ResourceName: e.Name, ResourceNamespace: e.Namespace,
			Reason: e.Reason, ExpiresAt: e.ExpiresAt.UTC().Truncate(time.Second).Format(time.RFC3339),
			ApprovedBy: x.ApprovedBy, Emergency: e.Emergency,
		})
	}
	var buf bytes.Buffer
	buf.WriteString("# Exported by `attest policy exemptions export`: the approved exemptions of the store.\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(map[string][]fileEntry{"exemptions": entries}); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	return buf.Bytes(), nil
}
