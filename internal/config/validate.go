package config

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// validateFile checks what needs more than one key of a policies file:
// names defined twice, bundle keys with both or neither of path and key.
func (d *decoder) validateFile(f *fileSchema) {
	seen := map[string]int{}
	for i, p := range f.Policies {
		n := d.set[fmt.Sprintf("policies[%d].name", i)]
		if p.Name == "" || n == nil {
			continue
		}
		if line, dup := seen[p.Name]; dup {
			d.errorf(n, "policy %q is listed twice in policies (first at line %d); merge the two entries", p.Name, line)
			continue
		}
		seen[p.Name] = n.Line
	}
	seen = map[string]int{}
	for i, cp := range f.Policy.CustomPolicies {
		n := d.set[fmt.Sprintf("policy.custom_policies[%d].name", i)]
		if cp.Name == "" || n == nil {
			continue
		}
		if line, dup := seen[cp.Name]; dup {
			d.errorf(n, "custom policy %q is defined twice in policy.custom_policies (first at line %d)", cp.Name, line)
			continue
		}
		seen[cp.Name] = n.Line
	}
	seen = map[string]int{}
	for i, k := range f.Policy.BundleVerification.PublicKeys {
		path := fmt.Sprintf("policy.bundle_verification.public_keys[%d]", i)
		idNode := d.set[path+".id"]
		if k.ID != "" && idNode != nil {
			if line, dup := seen[k.ID]; dup {
				d.errorf(idNode, "key id %q is used twice in %s (first at line %d)", k.ID, "policy.bundle_verification.public_keys", line)
			} else {
				seen[k.ID] = idNode.Line
			}
		}
		switch {
		case k.Path != "" && k.Key != "":
			d.errorf(d.set[path+".key"], "%s: give either path or key, not both", path)
		case k.Path == "" && k.Key == "" && idNode != nil:
			d.errorf(idNode, "%s: needs path (a PEM file) or key (the PEM text)", path)
		}
	}
	d.validateTokens(f)
}

// validateTokens refuses one token hash listed for two identities: the
// server could not say who presented it.
func (d *decoder) validateTokens(f *fileSchema) {
	seen := map[string]string{}
	for i, t := range f.Server.Auth.Tokens {
		n := d.set[fmt.Sprintf("server.auth.tokens[%d].sha256", i)]
		if t.SHA256 == "" || n == nil {
			continue
		}
		if prev, dup := seen[t.SHA256]; dup && prev != t.Identity {
			d.errorf(n, "server.auth.tokens: this token hash is already listed for %s; a token authenticates one identity", prev)
			continue
		}
		seen[t.SHA256] = t.Identity
	}
}

// decodeGovernance decodes and checks a governance file.
func (d *decoder) decodeGovernance(data []byte) *Governance {
	gy := defaultGovernance()
	nested := gy.EmergencyOverride // defaults for the nested spelling too
	gy.ExemptionApproval.EmergencyOverride = &nested
	doc := governanceSchema{Governance: &gy}
	d.decodeBytes(data, reflectOf(&doc))

	g := &Governance{
		PolicyApproval:    gy.PolicyApproval,
		ExemptionApproval: gy.ExemptionApproval.ExemptionApproval,
		EmergencyOverride: gy.EmergencyOverride,
		Teams:             gy.Teams,
	}
	const nestedPath = "governance.exemption_approval.emergency_override"
	if n, ok := d.set[nestedPath]; ok {
		if top, both := d.set["governance.emergency_override"]; both {
			d.errorf(n, "emergency_override is given both here and in governance (line %d); keep one", top.Line)
		} else {
			g.EmergencyOverride = *gy.ExemptionApproval.EmergencyOverride
			// list its keys where `attest config` looks for them
			for p, v := range d.set {
				if rest, ok := strings.CutPrefix(p, nestedPath); ok {
					d.set["governance.emergency_override"+rest] = v
					delete(d.set, p)
				}
			}
		}
	}

	if s := g.ExemptionApproval.MaxDuration; s != "" {
		if dur, err := ParseDuration(s); err == nil {
			g.ExemptionApproval.MaxDurationValue = dur
		}
	}
	folded := map[string]string{}
	for _, name := range sortedKeys(g.Teams) {
		if !nameRe.MatchString(name) {
			n := d.keyNode("governance.teams", name)
			d.errorf(n, "governance.teams: %q is not a valid team name (letters, digits, '.', '_', '-'; no spaces)", name)
		}
		// Approvers name teams in any case; two teams that differ only in
		// case would make which one is meant a matter of chance.
		if other, ok := folded[strings.ToLower(name)]; ok {
			first, second := d.keyNode("governance.teams", other), d.keyNode("governance.teams", name)
			if first != nil && second != nil && second.Line < first.Line {
				first, second, other, name = second, first, name, other
			}
			d.errorf(second, "governance.teams: %q and %q differ only in case; team names are compared without case", other, name)
		}
		folded[strings.ToLower(name)] = name
	}
	if len(g.Teams) > 0 {
		d.checkTeamRefs("governance.policy_approval.required_teams", g.PolicyApproval.RequiredTeams, g.Teams)
		d.checkTeamRefs("governance.exemption_approval.required_teams", g.ExemptionApproval.RequiredTeams, g.Teams)
	}
	return g
}

func (d *decoder) checkTeamRefs(path string, refs []string, teams map[string][]string) {
	for i, t := range refs {
		if _, ok := teams[t]; ok {
			continue
		}
		d.errorf(d.set[fmt.Sprintf("%s[%d]", path, i)], "%s: team %q is not declared in governance.teams (declared: %s)",
			path, t, strings.Join(sortedKeys(teams), ", "))
	}
}

// keyNode finds the key node of a map entry under a recorded path, for
// errors about the key itself.
func (d *decoder) keyNode(path, key string) *yaml.Node {
	m := d.set[path]
	if m == nil {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i]
		}
	}
	return m
}
