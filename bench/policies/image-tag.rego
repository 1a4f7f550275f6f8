package main

# An image is pinned when it has a digest or a tag other than "latest".
unpinned(image) if endswith(image, ":latest")

unpinned(image) if {
	not contains(image, "@")
	parts := split(image, "/")
	not contains(parts[count(parts) - 1], ":")
}

# METADATA
# title: Image without a pinned tag
# custom:
#   id: image-latest-tag
#   severity: high
deny contains msg if {
	some c in containers
	unpinned(c.image)
	msg := sprintf("%s: container %q uses an unpinned image %q", [obj, c.name, c.image])
}
