#!/bin/sh
# Installs what a fresh Debian 12 machine lacks to build, check and run iclv:
# R, the R packages the tests and vignettes use (all from Debian), pandoc.
# Does nothing when everything is there already.
set -e
missing=""
command -v R >/dev/null 2>&1 || missing="yes"
command -v pandoc >/dev/null 2>&1 || missing="yes"
if [ -z "$missing" ]; then
  Rscript -e 'p <- c("testthat", "roxygen2", "numDeriv", "knitr", "rmarkdown");
              q(status = as.integer(!all(vapply(p, requireNamespace, logical(1), quietly = TRUE))))' \
    >/dev/null 2>&1 || missing="yes"
fi
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq r-base-dev r-cran-testthat r-cran-roxygen2 r-cran-numderiv \
  r-cran-knitr r-cran-rmarkdown pandoc >/dev/null
