print("numbat-bench")
