package storetest

var lockerTests = []lockerTest{}
