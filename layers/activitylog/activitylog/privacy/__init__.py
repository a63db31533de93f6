"""Privacy: masked fields (``masking``), and erasure of a data subject's personal data (``subjects``, ``erasure``)."""
