"""Project configuration and module specs: parsing, finding, pre-flight checks."""
