"""Text templates, shipped inside the package as holystack.templates."""
