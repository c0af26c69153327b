"""Dispute evidence: templates per reason, composing from the merchant's data, limits, files, CE 3.0.

Pure building blocks (no database, no Stripe calls): inputs are Stripe-shaped dicts and the
merchant's order; outputs are plain data. See docs/evidence.md.

- :mod:`.templates`   recommended evidence per reason and product type; completeness score
- :mod:`.composer`    fill the ``evidence`` hash from charge, history, order and text templates
- :mod:`.limits`      Stripe's text/file/page limits and a validator listing every violation
- :mod:`.files`       PDF/PNG/JPEG checks by content, merging, fitting a packet to the limits
- :mod:`.summary_pdf` the generated evidence summary PDF and its timeline
- :mod:`.ce3`         Visa Compelling Evidence 3.0 prior-transaction matching and payload
"""
