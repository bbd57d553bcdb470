"""The YAML loader holystack reads with: PyYAML's safe loader, in libyaml's C build when PyYAML
has it (5x faster to parse). Shared by the spec reader and the text tables."""
from __future__ import annotations

import yaml

YAML_LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
