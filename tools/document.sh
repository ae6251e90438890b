#!/bin/sh
# Regenerates NAMESPACE and man/ from the roxygen comments in R/ without
# compiling the package (the R sources are only parsed and sourced).
cd "$(dirname "$0")/.." && Rscript -e 'roxygen2::roxygenise(load_code = roxygen2::load_source)'
