"""Pages and htmx endpoints, one module per area of the studio."""
