"""The statistical judge: canary against primary with anytime-valid sequential tests (docs/judge.md)."""
