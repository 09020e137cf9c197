from file_service.bootstrap import main

main()
