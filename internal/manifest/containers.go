package manifest

import (
	"strconv"

	"gopkg.in/yaml.v3"
)

// Container is one container of a workload's pod spec.
type Container struct {
	Name  string
	Image string
	// Path is the JSON path of the container, such as
	// spec.template.spec.initContainers[0].
	Path string
	// Line and Column are those of the container mapping's first key.
	Line, Column int
}

// PodSpecPath returns the JSON path of the pod spec for the object's kind,
// or "" for kinds without one.
func (r *Resource) PodSpecPath() string {
	return podSpecPath(r.Kind)
}

func podSpecPath(kind string) string {
	switch kind {
	case "Pod":
		return "spec"
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job":
		return "spec.template.spec"
	case "CronJob":
		return "spec.jobTemplate.spec.template.spec"
	case "PodTemplate":
		return "template.spec"
	}
	return ""
}

// containerFields are the pod spec fields that hold containers.
var containerFields = map[string]bool{"containers": true, "initContainers": true, "ephemeralContainers": true}

// Containers lists the containers, init containers and ephemeral containers
// of the object's pod spec in the order the document writes them.
func (r *Resource) Containers() []Container {
	prefix := r.PodSpecPath()
	if prefix != "" && r.fromValue {
		return r.containersValue(prefix)
	}
	if prefix == "" || r.node == nil {
		return nil
	}
	segs, _ := parsePath(prefix)
	n := r.node
	for _, s := range segs {
		if n, _, _ = step(n, s); n == nil {
			return nil
		}
	}
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		return nil
	}
	var out []Container
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Kind != yaml.ScalarNode || !containerFields[k.Value] {
			continue
		}
		list := deref(n.Content[i+1])
		if list.Kind != yaml.SequenceNode {
			continue
		}
		for j, e := range list.Content {
			e = deref(e)
			c := Container{Path: prefix + "." + k.Value + "[" + strconv.Itoa(j) + "]"}
			c.Line, c.Column = startOf(e)
			if e.Kind == yaml.MappingNode {
				if _, v := lookup(e, "name", 0); v != nil && deref(v).Kind == yaml.ScalarNode {
					c.Name = deref(v).Value
				}
				if _, v := lookup(e, "image", 0); v != nil && deref(v).Kind == yaml.ScalarNode {
					c.Image = deref(v).Value
				}
			}
			out = append(out, c)
		}
	}
	return out
}
