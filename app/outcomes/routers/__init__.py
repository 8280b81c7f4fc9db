"""HTTP for outcome measures: admins author instruments, people answer, clinics schedule."""
