from workbook_service.bootstrap import main

main()
