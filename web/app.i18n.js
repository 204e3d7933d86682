// The residents' app's words: Simplified Chinese first, English second. Keys match
// data-i18n / data-i18n-placeholder / data-i18n-aria in app.html and t() in app.js.
window.APP_I18N = {
  zh: {
    skip: '跳到主要内容', title: '罗湖民意速办', tabs: '功能', tab_report: '我要反映', tab_track: '查询进度', tab_news: '社区动态',
    what: '什么问题', category: '问题类别', subcategory: '具体类别', cat_unsure: '不确定，由系统判断', cat_any: '（可不选）',
    description: '问题描述', desc_ph: '请描述发生了什么、在哪里、持续多久', where: '在哪里', use_position: '使用我的位置',
    place_none: '点击地图选择位置', place_locating: '正在定位…', place_outside: '该位置不在罗湖区范围内',
    place_denied: '无法获取位置，请在地图上选择或填写地址', map_label: '罗湖区地图：点击选择位置，方向键移动标记，回车确认',
    address: '详细地址（选填）', address_ph: '如：东门街道湖贝社区湖贝新村12栋', photos: '照片（最多3张，每张不超过1MB）',
    add_photo: '添加照片', remove: '删除', photo_type: '只能上传 JPG、PNG、GIF、WebP 图片', photo_size: '照片不能超过 1MB',
    photo_max: '最多3张照片', contact: '联系方式（仅工作人员可见）', name: '称呼（选填）', phone: '手机号', submit: '提交',
    submitting: '正在提交…', need_desc: '请填写问题描述', need_phone: '请填写正确的手机号', need_place: '请在地图上选择位置或填写地址',
    done_title: '已收到您的反映', done_ref: '您的工单编号', done_hint: '请保存编号，凭编号和手机号查询进度；办结后请对处理结果进行评价。',
    track_now: '查看进度', report_more: '再反映一件', ref: '工单编号', query: '查询', mine: '我反映过的',
    reported_at: '反映时间', deadline: '办理时限', contact_short: '联系人', progress: '办理进度', rate_title: '请评价处理结果',
    sat_satisfied: '满意', sat_basic: '基本满意', sat_dissatisfied: '不满意', rate_comment: '意见（选填）',
    rated: '感谢您的评价！', rated_reopen: '已收到，我们将重新安排办理。', not_found: '没有找到该工单，或手机号不一致',
    too_many: '操作太频繁，请稍后再试', failed: '提交失败，请稍后再试', kind: '类型', news: '社区新闻', activities: '近期活动',
    community: '社区', all_district: '全区', no_items: '暂无内容', foot: '紧急情况请拨打 110 / 119 / 120；政务服务热线 12345',
    sat_label_satisfied: '满意', sat_label_basically_satisfied: '基本满意', sat_label_dissatisfied: '不满意'
  },
  en: {
    skip: 'Skip to main content', title: 'Luohu Citizen Requests', tabs: 'Sections', tab_report: 'Report', tab_track: 'Track', tab_news: 'Community',
    what: 'What is wrong', category: 'Category', subcategory: 'Subcategory', cat_unsure: 'Not sure: let the system decide', cat_any: '(optional)',
    description: 'Description', desc_ph: 'What happened, where, and for how long', where: 'Where', use_position: 'Use my location',
    place_none: 'Tap the map to choose the place', place_locating: 'Locating…', place_outside: 'This place is outside Luohu district',
    place_denied: 'No position available: tap the map or type an address', map_label: 'Map of Luohu: click to choose a place, arrow keys move the marker, Enter confirms',
    address: 'Address (optional)', address_ph: 'e.g. Block 12, Hubei Xincun, Dongmen', photos: 'Photos (up to 3, 1 MB each)',
    add_photo: 'Add photos', remove: 'Remove', photo_type: 'Only JPG, PNG, GIF or WebP images', photo_size: 'A photo may not exceed 1 MB',
    photo_max: 'At most 3 photos', contact: 'Contact (seen by staff only)', name: 'Name (optional)', phone: 'Mobile number', submit: 'Submit',
    submitting: 'Submitting…', need_desc: 'Please describe the problem', need_phone: 'Please enter a valid phone number', need_place: 'Please choose the place on the map or type an address',
    done_title: 'We have your report', done_ref: 'Your case number', done_hint: 'Keep this number: with it and your phone number you can follow the case, and rate it once closed.',
    track_now: 'Track it', report_more: 'Report another', ref: 'Case number', query: 'Look up', mine: 'My reports',
    reported_at: 'Reported', deadline: 'Due', contact_short: 'Contact', progress: 'Progress', rate_title: 'How was it handled?',
    sat_satisfied: 'Satisfied', sat_basic: 'Basically satisfied', sat_dissatisfied: 'Dissatisfied', rate_comment: 'Comment (optional)',
    rated: 'Thank you for rating!', rated_reopen: 'Thank you: the case has been sent back for handling.', not_found: 'No case with this number and phone',
    too_many: 'Too many attempts; please try again later', failed: 'Something went wrong; please try again', kind: 'Kind', news: 'News', activities: 'Activities',
    community: 'Community', all_district: 'Whole district', no_items: 'Nothing yet', foot: 'Emergencies: 110 / 119 / 120. Government hotline 12345',
    sat_label_satisfied: 'Satisfied', sat_label_basically_satisfied: 'Basically satisfied', sat_label_dissatisfied: 'Dissatisfied'
  }
};
