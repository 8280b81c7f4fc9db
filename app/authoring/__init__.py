"""Content management for admins: editing the catalogue through the API, with an audit trail."""
