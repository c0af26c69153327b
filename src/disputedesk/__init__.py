"""disputedesk: a self-hosted refunds and disputes desk for Stripe merchants."""

__version__ = "0.1.0"
