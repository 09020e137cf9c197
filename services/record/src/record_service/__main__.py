from record_service.bootstrap import main

main()
