"""The statistical judge: canary against primary with anytime-valid sequential tests (research section 8)."""
