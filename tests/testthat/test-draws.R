# Radical inverse of the integers n in base b (the unscrambled Halton points).
radical_inverse <- function(n, base) {
  vapply(n, function(k) {
    value <- 0
    weight <- 1 / base
    while (k > 0) {
      value <- value + (k %% base) * weight
      k <- k %/% base
      weight <- weight / base
    }
    value
  }, numeric(1))
}

all_draw_settings <- list(
  list(type = "halton", scramble = FALSE), list(type = "halton", scramble = TRUE),
  list(type = "sobol", scramble = FALSE), list(type = "sobol", scramble = TRUE),
  list(type = "mlhs", scramble = FALSE), list(type = "pseudo", scramble = FALSE)
)

make_setting_draws <- function(setting, n_indiv, n_draws, n_dim, seed = 1L, antithetic = FALSE) {
  iclv_draws(n_indiv, n_draws, n_dim, type = setting$type, seed = seed,
             antithetic = antithetic, scramble = setting$scramble)
}

test_that("draws are an N x R x D double array with a draw_type attribute", {
  for (setting in all_draw_settings) {
    draws <- make_setting_draws(setting, 7, 6, 3)
    expect_type(draws, "double")
    expect_equal(dim(draws), c(7L, 6L, 3L))
    expect_null(dimnames(draws))
    expect_identical(attr(draws, "draw_type"), setting$type)
    expect_true(all(is.finite(draws)))
  }
  expect_identical(attr(iclv_draws(2, 2, 1), "draw_type"), "halton")
})

test_that("unscrambled Halton points are the radical inverses after skipping 10", {
  draws <- iclv_draws(1, 3, 2, type = "halton")
  expect_equal(pnorm(draws[1, , 1]), c(0.8125, 0.1875, 0.6875), tolerance = 1e-13)
  expect_equal(pnorm(draws[1, , 2]), c(19, 4, 13) / 27, tolerance = 1e-13)

  # Individual-major layout: individual i gets points (i - 1) R + 1 .. i R
  # after the skip; dimension d uses the d-th prime.
  n_indiv <- 4
  n_draws <- 5
  draws <- iclv_draws(n_indiv, n_draws, 3, type = "halton")
  index <- 10 + outer(seq_len(n_indiv), seq_len(n_draws), function(i, r) (i - 1) * n_draws + r)
  for (d in 1:3) {
    expected <- matrix(radical_inverse(index, c(2, 3, 5)[d]), n_indiv, n_draws)
    expect_equal(pnorm(draws[, , d]), expected, tolerance = 1e-13)
  }
})

test_that("the inverse normal CDF agrees with qnorm() to double precision", {
  # Many Halton points reach u ~ 1e-4 (the middle branch of AS 241).
  draws <- iclv_draws(1, 20000, 2, type = "halton")
  for (d in 1:2) {
    u <- radical_inverse(10 + seq_len(20000), c(2, 3)[d])
    expect_equal(draws[1, , d], qnorm(u), tolerance = 1e-14)
  }
})

test_that("unscrambled Sobol points are the standard sequence", {
  standard <- rbind(
    c(0.5, 0.5, 0.5), c(0.75, 0.25, 0.25), c(0.25, 0.75, 0.75),
    c(0.375, 0.375, 0.625), c(0.875, 0.875, 0.125), c(0.625, 0.125, 0.875),
    c(0.125, 0.625, 0.375), c(0.1875, 0.3125, 0.9375), c(0.6875, 0.8125, 0.4375)
  )
  draws <- iclv_draws(1, 9, 3, type = "sobol")
  expect_equal(pnorm(draws[1, , ]), standard, tolerance = 1e-14)
  # Same layout as Halton: individual 2 continues where individual 1 ended.
  draws <- iclv_draws(3, 3, 3, type = "sobol")
  expect_equal(pnorm(draws[2, , ]), standard[4:6, ], tolerance = 1e-14)
  expect_equal(pnorm(draws[3, , ]), standard[7:9, ], tolerance = 1e-14)
})

test_that("every Sobol dimension puts points 1..2^m - 1 in distinct intervals of width 2^-m", {
  # Holds for the typed-in direction numbers (dimensions 2-32), the generated
  # ones (33+) and after scrambling. Unscrambled, the points are exactly j / 2^m.
  m <- 8
  plain <- iclv_draws(1, 2^m - 1, 40, type = "sobol")
  scrambled <- iclv_draws(1, 2^m - 1, 40, type = "sobol", scramble = TRUE, seed = 5)
  for (d in 1:40) {
    expect_equal(sort(pnorm(plain[1, , d])), seq_len(2^m - 1) / 2^m, tolerance = 1e-14)
    expect_equal(anyDuplicated(floor(pnorm(scrambled[1, , d]) * 2^m)), 0L)
  }
})

test_that("unscrambled Sobol dimensions 1 and 2 form a (0, m, 2)-net", {
  # Points 0..15 put one point in each 4 x 4 cell; point 0 is dropped, so
  # cell (0, 0) is empty and all others hold one.
  # (Unscrambled points are exact multiples of 1/16: round before flooring.)
  draws <- iclv_draws(1, 15, 2, type = "sobol")
  cell <- function(z) factor(floor(round(pnorm(z) * 16) / 4), 0:3)
  cells <- table(cell(draws[1, , 1]), cell(draws[1, , 2]))
  expected <- matrix(1L, 4, 4)
  expected[1, 1] <- 0L
  expect_equal(unclass(cells), expected, ignore_attr = TRUE)
})

test_that("each type has means near 0 and variances near 1", {
  # Tolerances: pseudo-random means have standard error 1/sqrt(N R) = 0.002;
  # the quasi-random types are much closer.
  tolerance <- c(halton = 0.003, sobol = 0.003, mlhs = 0.003, pseudo = 0.01)
  for (setting in all_draw_settings) {
    draws <- make_setting_draws(setting, 1000, 200, 3, seed = 11)
    for (d in 1:3) {
      values <- draws[, , d]
      expect_lt(abs(mean(values)), tolerance[[setting$type]])
      expect_lt(abs(var(as.vector(values)) - 1), 2 * tolerance[[setting$type]])
    }
  }
})

test_that("MLHS puts one uniform in each interval [i/R, (i+1)/R) per individual", {
  n_draws <- 37
  draws <- iclv_draws(20, n_draws, 3, type = "mlhs", seed = 3)
  for (d in 1:3) for (i in 1:20) {
    u <- sort(pnorm(draws[i, , d]))
    expect_equal(floor(u * n_draws), 0:(n_draws - 1))
  }
  # The order is shuffled, separately for each dimension.
  expect_false(all(diff(pnorm(draws[1, , 1])) > 0))
  expect_false(identical(order(draws[1, , 1]), order(draws[1, , 2])))
})

test_that("draws are deterministic given the seed and do not touch R's RNG", {
  for (setting in all_draw_settings) {
    first <- make_setting_draws(setting, 30, 10, 2, seed = 7)
    expect_identical(make_setting_draws(setting, 30, 10, 2, seed = 7), first)
    other_seed <- make_setting_draws(setting, 30, 10, 2, seed = 8)
    random <- setting$scramble || setting$type %in% c("mlhs", "pseudo")
    if (random) {
      expect_false(any(other_seed == first))
    } else {
      expect_identical(other_seed, first)
    }
  }
  set.seed(123)
  before <- .Random.seed
  iclv_draws(10, 10, 2, type = "pseudo", seed = 1)
  expect_identical(.Random.seed, before)
  # Individuals and dimensions get distinct values.
  draws <- iclv_draws(5, 10, 2, type = "pseudo")
  expect_false(any(draws[1, , 1] == draws[2, , 1]))
  expect_false(any(draws[1, , 1] == draws[1, , 2]))
})

test_that("scrambled Halton differs from the plain sequence in every base, base 2 included", {
  plain <- iclv_draws(10, 10, 4, type = "halton")
  scrambled <- iclv_draws(10, 10, 4, type = "halton", scramble = TRUE)
  for (d in 1:4) expect_false(isTRUE(all.equal(plain[, , d], scrambled[, , d])))
})

test_that("antithetic draws mirror the first half, which is the plain design of R/2 draws", {
  for (setting in all_draw_settings) {
    draws <- make_setting_draws(setting, 9, 8, 2, seed = 4, antithetic = TRUE)
    first_half <- draws[, 1:4, , drop = FALSE]
    expect_identical(draws[, 5:8, , drop = FALSE], -first_half)
    half_design <- make_setting_draws(setting, 9, 4, 2, seed = 4)
    attr(half_design, "draw_type") <- NULL
    expect_identical(first_half, half_design)
  }
})

test_that("iclv_draws() rejects bad arguments with clear messages", {
  expect_error(iclv_draws(10, 2.5, 2), "n_draws must be a positive whole number, got 2.5",
               fixed = TRUE)
  expect_error(iclv_draws(0, 10, 2), "n_indiv must be a positive whole number, got 0",
               fixed = TRUE)
  expect_error(iclv_draws(10, 10, -1), "n_dim must be a positive whole number, got -1",
               fixed = TRUE)
  expect_error(iclv_draws(10, NA, 2), "n_draws must be a positive whole number, got NA",
               fixed = TRUE)
  expect_error(iclv_draws(10, c(5, 6), 2), "got a numeric of length 2", fixed = TRUE)
  expect_error(iclv_draws(10, "5", 2), "n_draws must be a positive whole number, got \"5\"",
               fixed = TRUE)
  expect_error(iclv_draws(10, 5, 2, antithetic = TRUE), "even n_draws.*got n_draws = 5")
  expect_error(iclv_draws(10, 5, 2, type = "latin"),
               "type must be one of \"halton\", \"mlhs\", \"sobol\", \"pseudo\", got \"latin\"",
               fixed = TRUE)
  expect_error(iclv_draws(10, 6, 2, type = "mlhs", scramble = TRUE),
               "scramble = TRUE is only available for type \"halton\" or \"sobol\", not \"mlhs\"",
               fixed = TRUE)
  expect_error(iclv_draws(10, 6, 2, type = "pseudo", scramble = TRUE), "not \"pseudo\"",
               fixed = TRUE)
  expect_error(iclv_draws(10, 6, 2, seed = 1.5), "seed must be a single whole number")
  expect_error(iclv_draws(10, 6, 2, seed = NA), "seed must be a single whole number")
  expect_error(iclv_draws(10, 6, 2, antithetic = NA), "antithetic must be TRUE or FALSE")
  expect_error(iclv_draws(10, 6, 2, scramble = "yes"), "scramble must be TRUE or FALSE")
  expect_error(iclv_draws(2, 2, 1112, type = "sobol"), "at most 1111 dimensions")
  expect_error(iclv_draws(1e5, 1e5, 1e5), "too many")
})

test_that("check_user_draws() accepts a valid array and says what is wrong otherwise", {
  good <- array(rnorm(24), c(3, 4, 2), dimnames = list(NULL, NULL, c("a", "b")))
  checked <- check_user_draws(good, n_indiv = 3, n_dim = 2)
  expect_equal(dim(checked), c(3L, 4L, 2L))
  expect_null(dimnames(checked))
  expect_type(check_user_draws(array(1L, c(3, 4, 2)), 3, 2), "double")

  expect_error(check_user_draws("a", 3, 2), "numeric array")
  expect_error(check_user_draws(matrix(0, 3, 4), 3, 2), "3-dimensional array.*2 dimensions")
  expect_error(check_user_draws(1:3, 3, 2), "vector without dimensions")
  expect_error(check_user_draws(good, 5, 2),
               "first dimension (individuals) but the data have 5 individuals", fixed = TRUE)
  expect_error(check_user_draws(good, 3, 3),
               "2 entries in its third dimension (random dimensions) but the model needs 3",
               fixed = TRUE)
  expect_error(check_user_draws(array(0, c(3, 0, 2)), 3, 2), "second dimension")
  bad <- good
  bad[2, 3, 1] <- NA
  bad[1, 1, 2] <- Inf
  expect_error(check_user_draws(bad, 3, 2),
               "2 non-finite values (NA, NaN or Inf), the first at [2, 3, 1]", fixed = TRUE)
})
