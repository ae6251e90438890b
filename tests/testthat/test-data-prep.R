prep_model <- function(availability = list(C = "avail_C")) {
  handmade_three_items(
    terms = list(
      list(alt = "A", coef = "asc_A"),
      list(alt = "A", coef = "b_price", value = quote(price_A)),
      list(alt = "B", coef = "b_price", value = quote(price_B)),
      list(alt = "C", coef = "b_price", value = quote(log(price_C))),
      list(alt = "B", coef = "b_att", lv = "att", value = quote(time_B))
    ),
    availability = availability
  )
}

# Individuals 7, 3, 5 (in order of first appearance), rows not contiguous;
# prepared in sorted id order 3, 5, 7.
prep_data <- function() {
  data.frame(
    id = c(7, 3, 7, 5, 3, 7),
    choice = c("A", "B", "C", "A", "C", "B"),
    price_A = c(1, 2, 3, 4, 5, 6),
    price_B = c(2, 3, 4, 5, 6, 7),
    price_C = c(1, 1, 2, 2, 4, NA),
    time_B = c(0.1, 0.2, 0.3, 0.4, 0.5, 0.6),
    avail_C = c(1, 1, 1, 0, 1, 0),
    age = c(40, 30, 40, 50, 30, 40),
    female = c(TRUE, FALSE, TRUE, TRUE, FALSE, TRUE),
    q1 = c(3, NA, 3, 1, 2, 3),
    q2 = c(4, 2, NA, NA, 2, 4),
    q3 = c(0.5, -1, 0.5, NA, -1, 0.5),
    stringsAsFactors = FALSE
  )
}

test_that("prepare_data returns the iclv_data contract with the right types and shapes", {
  model <- prep_model()
  prepared <- prepare_data(model, prep_data())
  expect_s3_class(prepared, "iclv_data")
  expect_named(prepared, c("ids", "ind_cat", "ind_value", "covariates", "task_ptr",
                           "rows", "choice", "avail", "term_value"))
  expect_equal(prepared$ids, c(3, 5, 7))
  expect_type(prepared$ind_cat, "integer")
  expect_equal(dim(prepared$ind_cat), c(3L, 3L))
  expect_type(prepared$ind_value, "double")
  expect_equal(dim(prepared$ind_value), c(3L, 3L))
  expect_type(prepared$covariates, "double")
  expect_equal(dim(prepared$covariates), c(3L, 2L))
  expect_type(prepared$task_ptr, "integer")
  expect_type(prepared$rows, "integer")
  expect_type(prepared$choice, "integer")
  expect_type(prepared$avail, "integer")
  expect_equal(dim(prepared$avail), c(6L, 3L))
  expect_type(prepared$term_value, "double")
  expect_equal(dim(prepared$term_value), c(6L, 5L))
})

test_that("rows are grouped by individual in sorted id order, tasks by their content", {
  prepared <- prepare_data(prep_model(), prep_data())
  # id 3: rows 2 (B), 5 (C); id 5: row 4 (A); id 7: rows 1 (A), 6 (B), 3 (C)
  expect_identical(prepared$task_ptr, c(0L, 2L, 3L, 6L))
  expect_identical(prepared$rows, c(2L, 5L, 4L, 1L, 6L, 3L))
  # choices B C | A | A B C, 0-based
  expect_identical(prepared$choice, c(1L, 2L, 0L, 0L, 1L, 2L))
  expect_identical(unname(prepared$avail[, 3]), c(1L, 1L, 0L, 1L, 0L, 1L))
  expect_true(all(prepared$avail[, 1:2] == 1L))
  # constant, price_A, price_B, log(price_C) (0 where C is unavailable), time_B
  expected <- cbind(1, c(2, 5, 4, 1, 6, 3), c(3, 6, 5, 2, 7, 4),
                    c(log(1), log(4), 0, log(1), 0, log(2)), c(0.2, 0.5, 0.4, 0.1, 0.6, 0.3))
  expect_equal(unname(prepared$term_value), expected)
})

test_that("any row order of the same data gives the same prepared arrays", {
  data <- prep_data()
  prepared <- prepare_data(prep_model(), data)
  for (seed in 1:5) {
    set.seed(seed)
    order <- sample(nrow(data))
    shuffled <- prepare_data(prep_model(), data[order, ])
    for (part in setdiff(names(prepared), "rows")) {
      expect_identical(shuffled[[part]], prepared[[part]])
    }
    # Each task still points at its own row of the (shuffled) data.
    expect_identical(order[shuffled$rows], prepared$rows)
  }
  # The same holds for character ids, sorted the same in every locale.
  data$id <- c("b", "B", "b", "a", "B", "b")
  prepared <- prepare_data(prep_model(), data)
  expect_identical(prepared$ids, c("B", "a", "b"))
  expect_identical(prepare_data(prep_model(), data[6:1, ])$ids, prepared$ids)
})

test_that("indicators and covariates are taken per person, NA meaning a missing answer", {
  prepared <- prepare_data(prep_model(), prep_data())
  # person 3: q1 is NA on one row and 2 on the other -> 2; person 5: q2 missing
  expect_equal(unname(prepared$ind_cat), cbind(c(2L, 1L, 3L), c(2L, 0L, 4L), 0L))
  expect_equal(unname(prepared$ind_value[, 1:2]), matrix(0, 3, 2))
  expect_identical(unname(prepared$ind_value[, 3]), c(-1, NaN, 0.5))
  expect_equal(unname(prepared$covariates), cbind(c(30, 50, 40), c(0, 1, 1)))
})

test_that("choice may be given as numbers with their codes, or as a factor", {
  data <- prep_data()
  expected <- prepare_data(prep_model(), data)$choice
  coded <- prep_model()
  coded$choice_codes <- c(A = 3, B = 1, C = 2)
  data$choice <- c(A = 3, B = 1, C = 2)[data$choice]
  expect_identical(prepare_data(coded, data)$choice, expected)
  data$choice <- factor(c("A", "B", "C", "A", "C", "B"), levels = c("C", "B", "A"))
  expect_identical(prepare_data(prep_model(), data)$choice, expected)
})

test_that("an individual with all indicators missing is allowed", {
  data <- prep_data()
  data[data$id == 5, c("q1", "q2", "q3")] <- NA
  prepared <- prepare_data(prep_model(), data)
  expect_identical(unname(prepared$ind_cat[2, ]), c(0L, 0L, 0L))
  expect_true(is.nan(prepared$ind_value[2, 3]))
})

test_that("a model without a choice part gives empty task arrays", {
  model <- handmade_model(
    latent = "att", loadings = list(q1 = "att", q3 = "att"),
    families = c(q1 = "ordered_probit", q3 = "continuous"), categories = c(q1 = 3),
    covariates = list(att = "age")
  )
  expect_null(model$choice)
  data <- prep_data()[, c("id", "age", "q1", "q3")]
  prepared <- prepare_data(model, data)
  expect_identical(prepared$task_ptr, integer(4))
  expect_identical(prepared$rows, integer(0))
  expect_identical(prepared$choice, integer(0))
  expect_type(prepared$avail, "integer")
  expect_equal(nrow(prepared$avail), 0L)
  expect_type(prepared$term_value, "double")
  expect_equal(dim(prepared$term_value), c(0L, 0L))
  expect_equal(prepared$task_ptr, c(0L, 0L, 0L, 0L))
  expect_length(prepared$rows, 0L)
})

test_that("tasks are grouped by individual", {
  prepared <- prepare_data(prep_model(), prep_data())
  expect_length(prepared$ids, 3L)
  expect_length(prepared$rows, 6L)
  expect_equal(range(diff(prepared$task_ptr)), c(1L, 3L))
})

test_that("bad data frames are refused", {
  expect_error(prepare_data(prep_model(), as.matrix(prep_data())), "must be a data frame")
  expect_error(prepare_data(prep_model(), prep_data()[0, ]), "has no rows")
})

test_that("unknown columns are named with their use", {
  model <- prep_model()
  drop <- function(column) { data <- prep_data(); data[[column]] <- NULL; data }
  expect_error(prepare_data(model, drop("q2")), "column `q2` (used as an indicator) is not in the data",
               fixed = TRUE)
  expect_error(prepare_data(model, drop("age")), "column `age` (used as a covariate)", fixed = TRUE)
  expect_error(prepare_data(model, drop("choice")), "column `choice` (used as the choice)", fixed = TRUE)
  expect_error(prepare_data(model, drop("id")), "column `id` (used as the id)", fixed = TRUE)
  expect_error(prepare_data(model, drop("avail_C")),
               "column `avail_C` (used as the availability of alternative `C`)", fixed = TRUE)
  expect_error(prepare_data(model, drop("time_B")),
               "column `time_B` (used as utility term `b_att * att * time_B` of alternative `B`)",
               fixed = TRUE)
})

test_that("non-numeric columns are refused where numbers are needed", {
  model <- prep_model()
  data <- prep_data()
  data$price_A <- as.character(data$price_A)
  expect_error(prepare_data(model, data),
               "column `price_A` (used by utility term `b_price * price_A` of alternative `A`) must be numeric",
               fixed = TRUE)
  data <- prep_data()
  data$price_C <- letters[1:6]
  expect_error(prepare_data(model, data),
               "utility term `b_price * log(price_C)` of alternative `C` cannot be evaluated", fixed = TRUE)
  data <- prep_data()
  data$age <- factor(data$age)
  expect_error(prepare_data(model, data), "covariate `age` must be numeric", fixed = TRUE)
  data <- prep_data()
  data$q3 <- as.character(data$q3)
  expect_error(prepare_data(model, data), "indicator `q3` is continuous and must be numeric",
               fixed = TRUE)
  data <- prep_data()
  data$q1 <- c("a", NA, "a", "b", "c", "a")
  expect_error(prepare_data(model, data), "indicator `q1` must hold category numbers 1..3",
               fixed = TRUE)
})

test_that("term expressions must give numbers of the right length", {
  model <- prep_model()
  model$utility_terms$value[[2]] <- quote(price_A > 2)   # logical is fine
  expect_equal(unname(prepare_data(model, prep_data())$term_value[, 2]), c(0, 1, 1, 0, 1, 1))
  model$utility_terms$value[[2]] <- quote(paste(price_A))
  expect_error(prepare_data(model, prep_data()),
               "utility term `b_price * paste(price_A)` of alternative `A` must evaluate to numbers",
               fixed = TRUE)
  model$utility_terms$value[[2]] <- quote(price_A[1:2])
  expect_error(prepare_data(model, prep_data()),
               "evaluates to 2 values but the data have 6 rows", fixed = TRUE)
  model$utility_terms$value[[2]] <- quote(log(price_A - 3))
  expect_error(suppressWarnings(prepare_data(model, prep_data())),
               "utility term `b_price * log(price_A - 3)` of alternative `A` is missing or not finite (rows 1, 2, 3)",
               fixed = TRUE)
})

test_that("missing values in used columns are reported with the rows", {
  model <- prep_model()
  data <- prep_data()
  data$price_A[c(2, 5, 6)] <- NA
  expect_error(prepare_data(model, data), "column `price_A` has 3 missing values (rows 2, 5, 6)",
               fixed = TRUE)
  data <- prep_data()
  data$price_C[c(1, 4)] <- NA           # row 4: C unavailable, NA allowed there
  expect_error(prepare_data(model, data), "column `price_C` has 1 missing value (row 1)",
               fixed = TRUE)
  data <- prep_data()
  data$age <- NA_real_
  expect_error(prepare_data(model, data),
               "column `age` has 6 missing values (rows 1, 2, 3, 4, 5, ...)", fixed = TRUE)
  for (column in c("id", "choice", "avail_C")) {
    data <- prep_data()
    data[[column]][3] <- NA
    expect_error(prepare_data(model, data), paste0("column `", column, "` has 1 missing value (row 3)"),
                 fixed = TRUE)
  }
})

test_that("choice values must be alternatives, and available", {
  model <- prep_model()
  data <- prep_data()
  data$choice[c(2, 4)] <- c("D", "a")
  expect_error(prepare_data(model, data),
               "choice column `choice` has values that are not alternatives (A, B, C): 'D', 'a' (rows 2, 4)",
               fixed = TRUE)
  data <- prep_data()
  data$choice <- c(1, 2, 3, 4, 0, 1.5)
  model$choice_codes <- c(A = 1, B = 2, C = 3)
  expect_error(prepare_data(model, data), "(codes A = 1, B = 2, C = 3): 4, 0, 1.5 (rows 4, 5, 6)",
               fixed = TRUE)
  data <- prep_data()
  data$choice[c(4, 6)] <- "C"
  expect_error(prepare_data(model, data), "the chosen alternative is unavailable (rows 4, 6)",
               fixed = TRUE)
})

test_that("availability columns must be 0/1 or logical", {
  model <- prep_model()
  data <- prep_data()
  data$avail_C <- c(1, 1, 2, 0, 1, 0)
  expect_error(prepare_data(model, data),
               "availability column `avail_C` must hold 0/1 or TRUE/FALSE; it has values 2 (row 3)",
               fixed = TRUE)
  data$avail_C <- c("y", "y", "y", "n", "y", "n")
  expect_error(prepare_data(model, data), "it has type character", fixed = TRUE)
  data$avail_C <- c(TRUE, TRUE, TRUE, FALSE, TRUE, FALSE)
  expect_identical(unname(prepare_data(model, data)$avail[, 3]), c(1L, 1L, 0L, 1L, 0L, 1L))
})

test_that("ordered indicator values must be integers within the categories", {
  model <- prep_model()
  data <- prep_data()
  data$q2[c(1, 6)] <- 6
  expect_error(prepare_data(model, data),
               "indicator `q2` has value 6 but 4 categories were declared (answers must be integers 1..4; rows 1, 6)",
               fixed = TRUE)
  data <- prep_data()
  data$q1[c(2, 4)] <- c(0, 1.5)
  expect_error(prepare_data(model, data), "indicator `q1` has values 0, 1.5 but 3 categories",
               fixed = TRUE)
})

test_that("indicators and covariates may not vary within an individual", {
  model <- prep_model()
  data <- prep_data()
  data$q1[6] <- 1
  expect_error(prepare_data(model, data),
               "indicator `q1` varies within individual 7: each person answers once; put one value on all rows of an id (rows 1, 3, 6)",
               fixed = TRUE)
  data <- prep_data()
  data$age[5] <- 31
  expect_error(prepare_data(model, data), "covariate `age` varies within individual 3", fixed = TRUE)
  data <- prep_data()
  data$q3[5] <- 2
  expect_error(prepare_data(model, data), "indicator `q3` varies within individual 3", fixed = TRUE)
})

test_that("at least two individuals are needed", {
  data <- prep_data()
  data$id <- 1
  data[, c("age", "female", "q1", "q2", "q3")] <- data[1, c("age", "female", "q1", "q2", "q3")]
  expect_error(prepare_data(prep_model(), data), "at least 2 individuals are needed", fixed = TRUE)
})

test_that("prepare_data evaluates the utility expressions of an iclv_model()", {
  model <- iclv_model(
    latent = "att =~ q1 + q2",
    utility = list(A = ~ asc_A + b_price * price_A + b_brand * (brand == "x") * att,
                   B = ~ b_price * log(price_B)),
    choice = "choice", id = "id", categories = 3)
  data <- data.frame(id = c(1, 1, 2, 2), choice = c("A", "B", "B", "A"),
                     price_A = c(1, 2, 3, 4), price_B = c(2, 4, 8, 16),
                     brand = c("x", "y", "x", "x"), q1 = c(1, 1, 3, 3), q2 = c(2, 2, NA, NA))
  prepared <- prepare_data(model, data)
  terms <- model$utility_terms
  expect_equal(prepared$term_value[, terms$coef == "b_brand"], c(1, 0, 1, 1))
  # Person 2's tasks in their stable order: A (row 4) before B (row 3).
  expect_equal(prepared$term_value[, terms$alt == 2], log(c(2, 4, 16, 8)))
  expect_equal(prepared$term_value[, terms$coef == "asc_A"], rep(1, 4))
  expect_identical(unname(prepared$ind_cat), cbind(c(1L, 3L), c(2L, 0L)))
})
