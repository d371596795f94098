from quiz.cli import main

main()
