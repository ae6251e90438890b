# The catalogue of user mistakes: each one stops in R, before any compiled
# code runs, with a message that names the place (column, rows, parameter,
# line of the model syntax). One test per mistake.

val_model_utility <- list(A = ~ asc_A + b_price * price_A + b_att * att,
                          B = ~ b_price * price_B)
val_model <- iclv_model("
    att =~ q1 + q2 + q3
    att ~ age",
  utility = val_model_utility, choice = "choice", id = "id", categories = 3)
val_data <- iclv_simulate(val_model, n_indiv = 8, n_tasks = 2, seed = 1)
val_theta <- attr(val_data, "theta")[val_model$params$free]

# The model with an availability column for B (B always available here).
val_avail_model <- iclv_model("
    att =~ q1 + q2 + q3
    att ~ age",
  utility = list(A = ~ asc_A + b_price * price_A + b_att * att,
                 B = ~ b_price * price_B),
  choice = "choice", id = "id", categories = 3, availability = list(B = "avail_B"))

loglik_of <- function(data, theta = val_theta, draws = 5, model = val_model) {
  iclv_loglik_plain(model, data, theta, draws = draws, threads = 1)
}

test_that("an unknown column names the column and its use", {
  data <- val_data
  data$price_A <- NULL
  expect_error(loglik_of(data), "column `price_A` \\(used as utility term `b_price \\* price_A` of alternative `A`\\) is not in the data")
  data <- val_data
  data$q3 <- NULL
  expect_error(loglik_of(data), "column `q3` \\(used as an indicator\\) is not in the data")
})

test_that("a non-numeric attribute names the column and the term", {
  data <- val_data
  data$price_B <- as.character(data$price_B)
  expect_error(loglik_of(data), "column `price_B` \\(used by utility term `b_price \\* price_B` of alternative `B`\\) must be numeric or logical, not character")
  data <- val_data
  data$age <- factor(round(data$age))
  expect_error(loglik_of(data), "covariate `age` must be numeric or logical, not factor")
})

test_that("NA in a used column names the column and the rows", {
  data <- val_data
  data$age[c(3, 4)] <- NA
  expect_error(loglik_of(data), "column `age` has 2 missing values \\(rows 3, 4\\)")
  data <- val_data
  data$price_A[5] <- NA
  expect_error(loglik_of(data), "column `price_A` has 1 missing value \\(row 5\\)")
  data <- val_data
  data$id[7] <- NA
  expect_error(loglik_of(data), "column `id` has 1 missing value \\(row 7\\)")
})

test_that("a choice value that is not an alternative names the value and the row", {
  data <- val_data
  data$choice[6] <- "Z"
  expect_error(loglik_of(data), "choice column `choice` has values that are not alternatives \\(A, B\\): 'Z' \\(row 6\\)")
  coded_model <- iclv_model(val_model$syntax, utility = val_model_utility, choice = "choice",
                            categories = 3, choice_codes = c(A = 1, B = 2))
  data$choice <- ifelse(val_data$choice == "A", 1, 2)
  data$choice[9] <- 3
  expect_error(loglik_of(data, model = coded_model),
               "not alternatives \\(codes A = 1, B = 2\\): 3 \\(row 9\\)")
})

test_that("choosing an unavailable alternative names the rows, alternative and column", {
  data <- val_data
  data$avail_B <- 1
  chose_b <- which(data$choice == "B")
  data$avail_B[chose_b[1:2]] <- 0
  expect_error(loglik_of(data, model = val_avail_model),
               sprintf("unavailable \\(rows %d, %d\\): choice column `choice` chooses `B` where its availability column `avail_B` is 0",
                       chose_b[1], chose_b[2]))
})

test_that("an indicator value outside its categories names the indicator, value and row", {
  data <- val_data
  data$q2[data$id == data$id[1]] <- 4
  expect_error(loglik_of(data), "indicator `q2` has value 4 but 3 categories were declared.*rows 1, 2")
  data <- val_data
  data$q2[c(3, 4)] <- 0
  expect_error(loglik_of(data), "indicator `q2` has value 0 but 3 categories.*rows 3, 4")
})

test_that("a non-integer indicator value names the indicator and the rows", {
  data <- val_data
  data$q1[data$id == 2] <- 1.5
  expect_error(loglik_of(data), "indicator `q1` has value 1.5 .*integers 1..3; rows 3, 4")
  data <- val_data
  data$q1 <- as.character(data$q1)
  data$q1[5] <- "yes"
  expect_error(loglik_of(data), "indicator `q1` must hold category numbers 1..3; it has 'yes' \\(row 5\\)")
})

test_that("an indicator varying within an individual names the indicator, id and rows", {
  data <- val_data
  data$q3[2] <- if (data$q3[1] == 1) 2 else 1
  expect_error(loglik_of(data), "indicator `q3` varies within individual 1.*\\(rows 1, 2\\)")
})

test_that("a covariate varying within an individual names the covariate, id and rows", {
  data <- val_data
  data$age[4] <- data$age[4] + 1
  expect_error(loglik_of(data), "covariate `age` varies within individual 2.*\\(rows 3, 4\\)")
})

test_that("a latent variable with no indicators names it and the line", {
  expect_error(iclv_model("att =~ q1 + q2\nsoc ~ att"),
               "line 2 of the model syntax: 'soc ~ att' explains 'soc', which has no indicators")
  expect_error(iclv_model("att =~ q1 + q2\n\nsoc ~~ soc"),
               "line 3 of the model syntax: 'soc ~~ soc' gives a scale to 'soc'")
})

test_that("a cycle among latent variables names the variables and the lines", {
  expect_error(iclv_model("a =~ q1 + q2\nb =~ q3 + q4\nc =~ q5 + q6\nb ~ a\nc ~ b\na ~ c"),
               "cycle: (a -> b -> c -> a|b -> c -> a -> b|c -> a -> b -> c) \\(lines 4, 5, 6 of the model syntax\\)")
  expect_error(iclv_model("att =~ q1 + q2\nsoc =~ q3\natt ~ soc\nsoc ~ att"),
               "cycle: .*\\(lines 3, 4 of the model syntax\\)")
})

test_that("an unknown parameter in `start` is named", {
  expect_error(iclv(val_model, val_data, draws = 5, start = c(b_prcie = -1)),
               "`start` names unknown parameter\\(s\\) `b_prcie`")
})

test_that("a duplicated parameter in `start` is named", {
  expect_error(iclv(val_model, val_data, draws = 5, start = c(b_price = -1, b_price = -2)),
               "`start` names `b_price` more than once")
})

test_that("`start` with another value for a fixed parameter names it and its fixed value", {
  expect_error(iclv(val_model, val_data, draws = 5, start = c("att~~att" = 2)),
               "`start` gives `att~~att` = 2 \\(fixed at 1\\); give a fixed parameter its fixed value or leave it out")
  expect_error(iclv(val_model, val_data, draws = 5, start = c("att~~att" = 2, "q1~~q1" = 0.5, b_price = 1)),
               "`att~~att` = 2 \\(fixed at 1\\), `q1~~q1` = 0.5 \\(fixed at 1\\);")
})

test_that("a whole parameter vector is accepted when its fixed values are the model's", {
  params <- iclv_parameters(val_model)
  theta_all <- stats::setNames(params$start, params$name)
  theta_all[names(val_theta)] <- val_theta
  expect_true(any(!params$free))
  free_only <- loglik_of(val_data)
  # Named, in any order, or unnamed in the table's order: the same evaluation.
  expect_identical(loglik_of(val_data, theta = rev(theta_all))$loglik, free_only$loglik)
  expect_identical(loglik_of(val_data, theta = unname(theta_all))$gradient, free_only$gradient)
  wrong <- theta_all
  wrong[["att~~att"]] <- 1.5
  expect_error(loglik_of(val_data, theta = wrong),
               "`theta` gives `att~~att` = 1.5 \\(fixed at 1\\)")
  expect_error(loglik_of(val_data, theta = unname(wrong)), "`att~~att` = 1.5")
  expect_error(loglik_of(val_data, theta = unname(theta_all)[-1]),
               sprintf("`theta` has %d values but the model has %d free parameters \\(%d with the fixed ones\\)",
                       nrow(params) - 1L, length(val_theta), nrow(params)))
})

test_that("`fixed` naming a parameter that does not exist is named, with close names", {
  expect_error(iclv_model("att =~ q1 + q2 + q3", fixed = c("att=~q4" = 1)),
               "`fixed` names 'att=~q4', which is not a parameter of the model; close names: .*'att=~q1'")
})

test_that("a duplicated parameter in `fixed` is named", {
  expect_error(iclv_model("att =~ q1 + q2 + q3", fixed = c("att=~q1" = 1, "att=~q1" = 2)),
               "`fixed` names 'att=~q1' more than once")
})

test_that("zero draws are refused with the value", {
  expect_error(loglik_of(val_data, draws = 0), "`draws` must be a positive whole number.*got 0")
  expect_error(iclv(val_model, val_data, draws = 0), "`draws` must be a positive whole number.*got 0")
  expect_error(iclv_draws(5, 0, 1), "n_draws must be a positive whole number, got 0")
})

test_that("a non-integer number of draws is refused with the value", {
  expect_error(loglik_of(val_data, draws = 2.5), "`draws` must be a positive whole number.*got 2.5")
  expect_error(iclv(val_model, val_data, draws = 7.5), "got 7.5")
  expect_error(iclv_draws(5, 10, 1.5), "n_dim must be a positive whole number, got 1.5")
})

test_that("an empty data set is refused", {
  expect_error(loglik_of(val_data[0, ]), "`data` has no rows")
  expect_error(iclv(val_model, val_data[0, ], draws = 5), "`data` has no rows")
})

test_that("a syntax error names the line and the statement", {
  expect_error(iclv_model("att =~ q1 + q2\n# a comment\natt ~ age +\n  + female"),
               "line 3 of the model syntax: 'att ~ age \\+ \\+ female' has an empty term")
  expect_error(iclv_model("att =~ q1 + q2\natt ~ 2x"),
               "line 2 of the model syntax: 'att ~ 2x' has '2x' after '~', which is not a variable name")
  expect_error(iclv_model("att =~ q1 + q2\n\natt := q1"),
               "line 3 of the model syntax: 'att := q1' uses the operator ':='")
  expect_error(iclv_model("att =~ q1 + q2\natt age"),
               "line 2 of the model syntax: 'att age' has no operator")
  expect_error(iclv_model("att =~ q1 + q2\nq1 | t1 + t3"),
               "line 2 of the model syntax: 'q1 \\| t1 \\+ t3' names threshold 2 't3'")
})

test_that("theta of the wrong length says how many values are needed", {
  expect_error(loglik_of(val_data, theta = unname(val_theta)[-1]),
               sprintf("`theta` has %d values but the model has %d free parameters",
                       length(val_theta) - 1L, length(val_theta)))
  expect_error(loglik_of(val_data, theta = val_theta[-2]),
               sprintf("`theta` has no value for free parameter\\(s\\) `%s`", names(val_theta)[2]))
})

test_that("theta with non-finite values names the parameters", {
  theta <- val_theta
  theta[c("b_att", "att=~q2")] <- c(Inf, NaN)
  expect_error(loglik_of(val_data, theta = theta), "`theta` has non-finite values: `att=~q2`, `b_att`")
  theta <- val_theta
  theta["att~age"] <- NA
  expect_error(loglik_of(val_data, theta = theta), "non-finite values: `att~age`")
})

test_that("a data set of one individual is refused, naming the id", {
  one <- val_data[val_data$id == 3, ]
  expect_error(loglik_of(one), "at least 2 individuals are needed; the data hold only one \\(id `3` in column `id`\\)")
})

test_that("no check leaves the engine to catch a mistake: the C code is never reached", {
  # Every mistake above is caught by R: with the compiled entry points traced,
  # none of them is called for a bad data set.
  counter <- new.env()
  counter$n <- 0L
  suppressMessages(utils::capture.output(
    trace("engine_build", tracer = bquote(assign("n", .(counter)$n + 1L, envir = .(counter))),
          print = FALSE, where = asNamespace("iclv"))))
  on.exit(suppressMessages(utils::capture.output(untrace("engine_build", where = asNamespace("iclv")))))
  data <- val_data
  data$q1[1] <- 9
  expect_error(loglik_of(data), "indicator `q1`")
  expect_identical(counter$n, 0L)
  loglik_of(val_data)
  expect_identical(counter$n, 1L)
})

# ---- Plausible mistakes that used to give a wrong answer without a word ----

test_that("numeric choice codes are refused without choice_codes, and then follow it", {
  # Codes from as.integer(factor(choice)) with levels B, A: 1 = B, 2 = A, the
  # reverse of the order of `utility`.
  data <- val_data
  data$choice <- as.integer(factor(val_data$choice, levels = c("B", "A")))
  expect_error(loglik_of(data), paste0(
    "choice column `choice` holds numbers (1, 2) but the model does not say which ",
    "alternative each number stands for, and iclv does not guess it from the order of ",
    "`utility`: give the codes in iclv_model(), e.g. choice_codes = c(A = 1, B = 2) if 1 ",
    "means A, 2 means B, or put the alternatives' names (A, B) in the column"), fixed = TRUE)
  expect_error(iclv(val_model, data, draws = 5), "holds numbers (1, 2)", fixed = TRUE)
  coded <- iclv_model(val_model$syntax, utility = val_model_utility, choice = "choice",
                      categories = 3, choice_codes = c(A = 2, B = 1))
  expect_equal(loglik_of(data, model = coded)$loglik, loglik_of(val_data)$loglik)
  # labels still work with a coded model, and factors as before
  expect_equal(loglik_of(val_data, model = coded)$loglik, loglik_of(val_data)$loglik)
  data$choice <- factor(val_data$choice, levels = c("B", "A"))
  expect_equal(loglik_of(data)$loglik, loglik_of(val_data)$loglik)
})

test_that("choice_codes must name every alternative once, with distinct numbers", {
  make <- function(codes) {
    iclv_model("att =~ q1 + q2 + q3", utility = list(car = ~ asc_car + b * cost_car, bus = ~ b * cost_bus),
               choice = "mode", choice_codes = codes)
  }
  expect_error(make(c(car = 1)), "`choice_codes` gives no code for alternative 'bus'")
  expect_error(make(c(car = 1, bus = 1)), "`choice_codes` gives the code 1 to 'car' and 'bus'")
  expect_error(make(c(car = 1, bus = 2, train = 3)), "`choice_codes` names 'train', which is not an alternative")
  expect_error(make(c(1, 2)), "`choice_codes` must be a named vector of numbers, alternative = code, e.g. choice_codes = c(car = 1, bus = 2)",
               fixed = TRUE)
  expect_error(iclv_model("att =~ q1 + q2", choice_codes = c(a = 1)),
               "`choice_codes` needs `utility`")
  expect_output(print(make(c(car = 2, bus = 1))), "choice 'mode', coded car = 2, bus = 1")
})

# Long data from wide: one row per (task, alternative), the choice repeated.
make_long <- function(wide) {
  long <- wide[rep(seq_len(nrow(wide)), each = 2L), ]
  long$alt <- rep(c("A", "B"), times = nrow(wide))
  long$price <- ifelse(long$alt == "A", long$price_A, long$price_B)
  long$chosen <- as.integer(long$choice == long$alt)
  rownames(long) <- NULL
  long
}
long_note <- paste0(
  "iclv wants one row per choice task, with each alternative's attributes in their own ",
  "columns and the chosen alternative in column `choice`; reshape long data (one row per ",
  "alternative) first, as shown under 'Long data' in ?iclv_model")

test_that("long data with a task column are refused: (id, task) repeats", {
  long <- make_long(val_data)
  expect_error(loglik_of(long), paste0(
    "column `task` repeats within individuals: individual 1 has 2 rows for task 1 (rows 1, 2), ",
    "and the 32 rows hold only 16 (id, task) pairs. ", long_note, "; if column `task` does not ",
    "number the choice tasks, name the column that does with iclv_model(task = )"), fixed = TRUE)
  expect_error(iclv(val_model, long, draws = 5), "column `task` repeats within individuals")
  # A task column named in the model is used instead of `task`.
  long$round <- long$task
  by_round <- iclv_model(val_model$syntax, utility = val_model_utility, choice = "choice",
                         categories = 3, task = "round")
  expect_error(loglik_of(long, model = by_round),
               "column `round` repeats within individuals: individual 1 has 2 rows for task 1 \\(rows 1, 2\\), and the 32 rows hold only 16 \\(id, task\\) pairs\\. iclv wants one row per choice task.*Long data' in \\?iclv_model$")
  wide <- val_data
  wide$round <- wide$task
  wide$task <- 1L
  expect_equal(loglik_of(wide, model = by_round)$loglik, loglik_of(val_data)$loglik)
  wide$round <- NULL
  expect_error(loglik_of(wide, model = by_round),
               "column `round` (used as the task number) is not in the data", fixed = TRUE)
  expect_error(iclv_model("att =~ q1 + q2", task = "round"), "`task` needs `utility`")
})

test_that("long data without a task column are refused: runs of one choice per alternative", {
  wide <- iclv_simulate(val_model, n_indiv = 30, n_tasks = 2, seed = 4)
  long <- make_long(wide)
  long$task <- NULL
  expect_error(loglik_of(long, theta = attr(wide, "theta")[val_model$params$free]), paste0(
    "the data have no task column, and the rows of every individual come in runs of 2 (as ",
    "many as alternatives) with the same choice in each run, e.g. individual 1 (rows 1, 2), ",
    "as in long data. ", long_note, "; if each row is a choice task, number the tasks in a ",
    "column and name it with iclv_model(task = )"), fixed = TRUE)
  # Wide data without a task column pass, also when every individual happens
  # to choose one alternative twice in a row: 8 runs are too few to tell.
  wide$task <- NULL
  expect_type(loglik_of(wide, theta = attr(wide, "theta")[val_model$params$free])$loglik,
              "double")
  few <- val_data
  few$task <- NULL
  few$choice <- rep(c("A", "B"), each = 2L, length.out = nrow(few))
  expect_type(loglik_of(few)$loglik, "double")
})

test_that("a 0/1 (or TRUE/FALSE) choice column is refused as long data", {
  long <- make_long(val_data)
  long$task <- NULL
  long$choice <- long$chosen
  expect_error(loglik_of(long), paste0(
    "choice column `choice` holds only 0 and 1, as long data (one row per alternative) mark ",
    "the chosen alternative: ", long_note, "; if 0 and 1 stand for two alternatives, say which ",
    "with iclv_model(choice_codes = c(A = 0, B = 1))"), fixed = TRUE)
  long$choice <- long$chosen == 1L
  expect_error(loglik_of(long), "choice column `choice` holds only 0 and 1")
  # A binary choice coded 0/1 in wide data, with its codes, is fine.
  binary <- iclv_model(val_model$syntax, utility = val_model_utility, choice = "choice",
                       categories = 3, choice_codes = c(A = 1, B = 0))
  data <- val_data
  data$choice <- as.integer(data$choice == "A")
  expect_equal(loglik_of(data, model = binary)$loglik, loglik_of(val_data)$loglik)
})

test_that("the reshape() recipe of ?iclv_model turns long data into the wide data", {
  long <- make_long(val_data)[c("id", "task", "alt", "price", "chosen", "age", "q1", "q2", "q3")]
  # the recipe, as in the help page
  chosen <- long[long$chosen == 1, c("id", "task", "alt")]
  names(chosen)[3] <- "choice"
  wide <- reshape(long[names(long) != "chosen"], direction = "wide",
                  idvar = c("id", "task"), timevar = "alt",
                  v.names = "price", sep = "_")
  wide <- merge(wide, chosen, by = c("id", "task"))
  expect_setequal(names(wide), c("id", "task", "age", "q1", "q2", "q3", "price_A", "price_B",
                                 "choice"))
  expect_equal(loglik_of(wide)$loglik, loglik_of(val_data)$loglik)
})
