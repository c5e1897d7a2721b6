"""Sample generators, one module per pole; each registers its builders with vre_catalog.samples.sample."""
