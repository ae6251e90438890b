# Random small models, data and parameters for the fuzz tests (test-fuzz.R) and
# the CPU run of the GPU's per-person logic (test-gpu-logic.R): random latent
# structures (1-3 latent variables, 2-6 indicators of random families,
# categories and threshold schemes, covariates, paths, normalisations), an
# optional choice part (2-3 alternatives, latent terms, interactions,
# availability), random data with missing answers and random parameters.

# A random model: list(model (from iclv_model() on the generated syntax),
# by_hand (the same structure as the generator chose it)).
fuzz_model <- function() {
  n_lv <- sample(3L, 1L)
  latent <- paste0("f", seq_len(n_lv))
  n_ind <- sample(max(2L, n_lv):6L, 1L)
  indicators <- paste0("y", seq_len(n_ind))
  owner <- c(sample(latent), sample(latent, n_ind - n_lv, replace = TRUE))
  loads_on <- lapply(seq_len(n_ind), function(k) {
    extra <- if (n_lv > 1L && stats::runif(1) < 0.2) sample(setdiff(latent, owner[[k]]), 1L)
    c(owner[[k]], extra)
  })
  family <- sample(c("ordered_probit", "ordered_logit", "continuous"), n_ind, replace = TRUE,
                   prob = c(0.4, 0.35, 0.25))
  categories <- sample(2:5, n_ind, replace = TRUE)
  scheme <- sample(c("free", "symmetric"), n_ind, replace = TRUE, prob = c(0.7, 0.3))
  scheme[family == "continuous"] <- "free"
  names(family) <- names(categories) <- names(scheme) <- indicators

  lines <- character(0)
  biogeme <- stats::runif(n_lv) < 0.3
  for (l in seq_len(n_lv)) {
    mine <- indicators[vapply(loads_on, function(x) latent[[l]] %in% x, TRUE)]
    terms <- mine
    if (biogeme[[l]]) terms[[1L]] <- paste0("1*", terms[[1L]])
    lines <- c(lines, paste(latent[[l]], "=~", paste(terms, collapse = " + ")))
    if (biogeme[[l]]) lines <- c(lines, paste(latent[[l]], "~~", latent[[l]]))
  }
  covariates <- character(0)
  structural <- list()
  for (l in seq_len(n_lv)) {
    rhs <- character(0)
    if (stats::runif(1) < 0.5) rhs <- c(rhs, sample(c("x1", "x2"), sample(2L, 1L)))
    if (l > 1L && stats::runif(1) < 0.5) rhs <- c(rhs, sample(latent[seq_len(l - 1L)], 1L))
    if (length(rhs)) lines <- c(lines, paste(latent[[l]], "~", paste(rhs, collapse = " + ")))
    covariates <- c(covariates, intersect(rhs, c("x1", "x2")))
    structural[[latent[[l]]]] <- lv_by_hand(latent[[l]], covariates = intersect(rhs, c("x1", "x2")),
                                            paths = intersect(rhs, latent))
  }
  for (k in indicators) {
    if (family[[k]] != "continuous" && scheme[[k]] == "symmetric" && stats::runif(1) < 0.3)
      lines <- c(lines, paste(k, "~ 1"))
  }

  utility <- NULL
  availability <- NULL
  lv_in_interaction <- character(0)
  utility_by_hand <- NULL
  if (stats::runif(1) < 0.7) {
    alts <- c("A", "B", "C")[seq_len(sample(2:3, 1L))]
    utility_by_hand <- list()
    utility <- lapply(seq_along(alts), function(j) {
      a <- alts[[j]]
      terms <- character(0)
      asc <- j < length(alts) && stats::runif(1) < 0.8
      if (asc) terms <- c(terms, paste0("asc_", a))
      attribute <- stats::runif(1) < 0.8
      if (attribute) terms <- c(terms, paste0("b_x * x_", a))
      l <- NULL
      interaction <- FALSE
      if (stats::runif(1) < 0.6) {
        l <- sample(latent, 1L)
        # the last alternative's is always an interaction, so that no latent
        # variable enters every utility alone (which would not be identified)
        interaction <- j == length(alts) || stats::runif(1) < 0.3
        if (interaction) lv_in_interaction <<- c(lv_in_interaction, l)
        terms <- c(terms, if (interaction) paste0("b_", a, l, " * ", l, " * z_", a)
                          else paste0("b_", a, l, " * ", l))
      }
      utility_by_hand[[a]] <<- function(x, lv, th) {
        v <- 0
        if (asc) v <- v + th[[paste0("asc_", a)]]
        if (attribute) v <- v + th[["b_x"]] * x[[paste0("x_", a)]]
        if (!is.null(l)) {
          z <- if (interaction) x[[paste0("z_", a)]] else 1
          v <- v + th[[paste0("b_", a, l)]] * lv[[l]] * z
        }
        v
      }
      stats::as.formula(paste("~", if (length(terms)) paste(terms, collapse = " + ") else "0"))
    })
    names(utility) <- alts
    if (stats::runif(1) < 0.4) {
      with_avail <- sample(alts, 1L)
      availability <- stats::setNames(list(paste0("av_", with_avail)), with_avail)
    }
  }
  # A free latent intercept where the utilities identify it: in `l * z_a`
  # (no coefficient of z_a alone can absorb it; constants absorb it in a
  # plain `b * l`).
  for (l in unique(lv_in_interaction)) {
    if (stats::runif(1) < 0.3) {
      lines <- c(lines, paste(l, "~ 1"))
      structural[[l]]$intercept <- paste0(l, "~1")
    }
  }
  items <- lapply(seq_len(n_ind), function(k) {
    q <- indicators[[k]]
    thresholds <- if (scheme[[k]] == "symmetric") symmetric_thresholds(q, categories[[k]]) else
      free_thresholds(q, categories[[k]])
    item_by_hand(q, loads_on[[k]], family[[k]], n_cat = categories[[k]], thresholds = thresholds)
  })

  model <- iclv_model(paste(lines, collapse = "\n"), utility = utility,
                      choice = if (!is.null(utility)) "choice", id = "id",
                      availability = availability, indicators = family,
                      thresholds = c(.default = "free", scheme[family != "continuous"]),
                      categories = c(.default = 5L, categories[family != "continuous"]))
  by_hand <- list(id = "id", choice = "choice", latent = structural,
                  indicators = stats::setNames(items, indicators), utility = utility_by_hand,
                  availability = unlist(availability))
  list(model = model, by_hand = by_hand)
}

# Random data: person-level answers (10% missing) and covariates repeated on
# each task row; attributes per row; a random available choice.
fuzz_data <- function(model) {
  n_indiv <- sample(5:15, 1L)
  n_tasks <- sample(2:3, 1L)
  id <- rep(seq_len(n_indiv), each = n_tasks)
  data <- data.frame(id = id)
  for (k in seq_along(model$indicators)) {
    answer <- if (model$family[[k]] == "continuous") stats::rnorm(n_indiv, 0, 1.5)
              else sample(model$categories[[k]], n_indiv, replace = TRUE)
    answer[stats::runif(n_indiv) < 0.1] <- NA
    data[[model$indicators[[k]]]] <- answer[id]
  }
  for (x in c("x1", "x2")) data[[x]] <- stats::rnorm(n_indiv)[id]
  n_rows <- nrow(data)
  alts <- model$alternatives
  if (length(alts)) {
    available <- matrix(TRUE, n_rows, length(alts))
    for (j in seq_along(alts)) {
      data[[paste0("x_", alts[[j]])]] <- stats::rnorm(n_rows)
      data[[paste0("z_", alts[[j]])]] <- stats::runif(n_rows, 0.5, 2)
    }
    for (a in names(model$availability)) {
      j <- match(a, alts)
      available[, j] <- stats::runif(n_rows) < 0.6
      data[[model$availability[[a]]]] <- as.integer(available[, j])
    }
    data$choice <- alts[apply(available, 1L, function(ok) {
      choices <- which(ok)
      choices[[sample(length(choices), 1L)]]
    })]
  }
  data
}

# Random parameters inside the domain: increasing thresholds, positive scales.
fuzz_theta <- function(model) {
  params <- model$params
  theta <- params$start
  free <- params$free
  draw <- function(type) switch(type,
    loading = stats::runif(1, -1.5, 1.5),
    covariate_path = , lv_path = stats::runif(1, -0.8, 0.8),
    scale = , lv_scale = stats::runif(1, 0.5, 1.8),
    intercept = , lv_intercept = stats::runif(1, -0.5, 0.5),
    choice = stats::runif(1, -1, 1),
    0)
  for (i in which(free & params$type != "threshold")) theta[[i]] <- draw(params$type[[i]])
  plan <- model$plan
  for (k in seq_along(model$indicators)) {
    idx <- seq_len(plan$ind_thr_ptr[k + 1L] - plan$ind_thr_ptr[k]) + plan$ind_thr_ptr[k]
    upper <- idx[plan$ind_thr_sign[idx] == 1]
    if (!length(upper)) next
    rows <- plan$ind_thr_par[upper] + 1L
    steps <- stats::runif(length(rows), 0.3, 1.2)
    is_symmetric <- any(plan$ind_thr_sign[idx] != 1) || length(upper) < length(idx)
    start <- if (is_symmetric) 0 else stats::runif(1, -2, -0.5) - steps[[1L]]
    theta[rows[free[rows]]] <- (start + cumsum(steps))[free[rows]]
  }
  theta
}

# One random case of the engine tests: a fuzz model, its data and
# parameters, and 3-40 standard normal draws per person, from R's generator
# seeded with `seed`.
fuzz_draws_case <- function(seed) {
  set.seed(seed)
  model <- fuzz_model()$model
  data <- fuzz_data(model)
  theta_full <- fuzz_theta(model)
  n_indiv <- length(unique(data$id))
  n_draws <- sample(3:40, 1L)
  draws <- array(stats::rnorm(n_indiv * n_draws * length(model$latent)),
                 c(n_indiv, n_draws, length(model$latent)))
  list(model = model, data = data, theta_full = theta_full, draws = draws)
}
