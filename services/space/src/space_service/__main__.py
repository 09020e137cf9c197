from space_service.bootstrap import main

main()
