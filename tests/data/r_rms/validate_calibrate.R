# R references for bootstrap validation (rms::validate) and calibration (rms::calibrate,
# cmethod = "KM") of a Cox model, with the bootstrap resamples written out so that Python
# can be fed the very same ones. Run from this folder: Rscript validate_calibrate.R
# (R 4.2, survival 3.5-3, rms 6.5-0 and jsonlite from Debian).
#
# rms draws resample b as sample(n, replace = TRUE) in predab.resample(), one call per
# resample and no other random numbers in between, so set.seed(s) followed by B such calls
# gives the resamples that validate() and calibrate() use after the same set.seed(s).
# Writes lung_used.csv, resamples_seed123_B200.csv, validate_*.csv, calibrate_*.csv and
# rms_validate.json beside this script.
suppressPackageStartupMessages({ library(rms); library(jsonlite) })
wjson <- function(x, name) writeLines(toJSON(x, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null"), name)
wcsv <- function(x, name) write.csv(x, name, row.names = FALSE)

# lung (survival package): rows with ph.ecog known, status 0/1, time in days
lung_used <- lung[!is.na(lung$ph.ecog), c("time", "status", "age", "sex", "ph.ecog")]
lung_used$status <- lung_used$status - 1L
rownames(lung_used) <- NULL
wcsv(lung_used, "lung_used.csv")
n <- nrow(lung_used)
B <- 200
seed <- 123

draw <- function(seed, B, n) { set.seed(seed); t(vapply(seq_len(B), function(b) sample(n, replace = TRUE), integer(n))) }
resamples <- draw(seed, B, n)
wcsv(as.data.frame(resamples), sprintf("resamples_seed%d_B%d.csv", seed, B))

dd <- datadist(lung_used); options(datadist = "dd")
res <- list(rms_version = as.character(packageVersion("rms")),
            survival_version = as.character(packageVersion("survival")),
            R_version = R.version.string, seed = seed, B = B, n = n)
tab <- function(v) { m <- unclass(v); data.frame(index = rownames(m), as.data.frame(m[, , drop = FALSE]), check.names = FALSE) }
for (ties in c("efron", "breslow")) {
  f <- cph(Surv(time, status) ~ age + sex + ph.ecog, data = lung_used, x = TRUE, y = TRUE, surv = TRUE,
           time.inc = 365, method = ties)
  res[[ties]] <- list(coef = as.list(coef(f)), loglik = f$loglik, center = f$center,
                      Dxy = unname(f$stats["Dxy"]), R2 = unname(f$stats["R2"]), g = unname(f$stats["g"]))
  set.seed(seed)
  v <- rms::validate(f, method = "boot", B = B)
  wcsv(tab(v), sprintf("validate_%s_B%d.csv", ties, B))
  # the same resamples drawn again give the same result (the resamples file is what rms used)
  set.seed(seed)
  stopifnot(isTRUE(all.equal(unclass(rms::validate(f, method = "boot", B = B)), unclass(v))))
}
f <- cph(Surv(time, status) ~ age + sex + ph.ecog, data = lung_used, x = TRUE, y = TRUE, surv = TRUE, time.inc = 365)
for (setting in list(list(u = 365, m = 50), list(u = 730, m = 40))) {
  set.seed(seed)
  if (setting$u != 365) f <- update(f, time.inc = setting$u)
  cal <- rms::calibrate(f, cmethod = "KM", method = "boot", u = setting$u, m = setting$m, B = B)
  ck <- as.data.frame(unclass(cal)[, , drop = FALSE])
  wcsv(cbind(group = seq_len(nrow(ck)), ck), sprintf("calibrate_KM_u%d_m%d_B%d.csv", setting$u, setting$m, B))
}
wjson(res, "rms_validate.json")
print(v)
