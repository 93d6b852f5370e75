-- Reserved for the admin store of issue 19, built on another branch at the same time: this branch's
-- migrations 0013 and 0014 need an unbroken sequence to run. Whoever merges both keeps the admin
-- branch's 0012 and drops this file.
SELECT 1;
